"""What counts as a secret in HTTP traffic, and how it is hidden: one rule for every output.

NDJSON captures, HAR files and the MCP server's browser results all use this
module, so a secret hidden in one is hidden in all. Hidden by default:

- the values of ``Authorization``, ``Cookie``, ``Set-Cookie`` and ``Proxy-Authorization``,
  and of headers named like a secret (``X-Api-Key``, ``X-Auth-Token``, ``X-Session-Id``);
- in URLs (the request URL, redirects, ``Location``, ``Referer``…): the values of query and
  fragment parameters whose name looks like a secret (``token``, ``access_token``, ``key``,
  ``api_key``, ``secret``, ``password``, ``passwd``, ``auth``, ``session``, ``sid``,
  ``code``…), and a password in ``user:password@``;
- in ``application/x-www-form-urlencoded`` and JSON bodies: the values of such names, at
  any depth of the JSON.

A name looks like a secret when one of its words (split at ``_``, ``-``, ``.``, spaces and
camelCase) is one of :data:`SECRET_WORDS`, or ends with one of :data:`SECRET_ENDINGS`
(``accesstoken``, ``apikey``, ``phpsessid``). This errs on the side of hiding: a
``country_code`` is hidden too. A JSON body too deep to walk is hidden whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote_plus, unquote_plus

REDACTED = "[redacted]"
SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
"""Headers whose whole value is a credential."""
URL_HEADERS = frozenset({"location", "referer", "content-location", "origin"})
"""Headers whose value is a URL, which may carry a token in its query."""

SECRET_WORDS = frozenset(
    {
        "token",
        "tokens",
        "key",
        "apikey",
        "secret",
        "password",
        "passwd",
        "pass",
        "pwd",
        "passcode",
        "pin",
        "auth",
        "authorization",
        "session",
        "sessionid",
        "sid",
        "sessid",
        "code",
        "otp",
        "sig",
        "signature",
        "credential",
        "credentials",
        "jwt",
        "bearer",
        "cookie",
        "assertion",
    }
)
SECRET_ENDINGS = ("token", "secret", "password", "passwd", "apikey", "sessid", "sessionid")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
_MAX_DEPTH = 200


def secret_name(name: str) -> bool:
    """Whether a parameter or key named ``name`` holds a secret (see the module's rule)."""
    words = [word.lower() for word in _SEPARATORS.split(_CAMEL.sub("_", name)) if word]
    joined = "".join(words)
    return any(word in SECRET_WORDS for word in words) or joined.endswith(SECRET_ENDINGS)


def redact_pairs(text: str) -> str:
    """``a=1&token=2`` with the values of secret names replaced; the rest kept byte for byte."""
    if "=" not in text:
        return text
    parts = []
    for pair in text.split("&"):
        name, equals, value = pair.partition("=")
        if equals and value and secret_name(unquote_plus(name)):
            value = quote_plus(REDACTED, safe="[]")
        parts.append(f"{name}{equals}{value}")
    return "&".join(parts)


def redact_url(url: str) -> str:
    """``url`` with secret query and fragment parameters, and a userinfo password, hidden."""
    head, question, rest = url.partition("?")
    query, hash_mark, fragment = rest.partition("#") if question else ("", "", "")
    if not question:
        head, hash_mark, fragment = url.partition("#")
    scheme, slashes, authority_and_path = head.partition("://")
    if slashes:
        authority, slash, path = authority_and_path.partition("/")
        userinfo, at, host = authority.rpartition("@")
        if at and ":" in userinfo:
            user = userinfo.partition(":")[0]
            authority = f"{user}:{REDACTED}@{host}"
        head = f"{scheme}{slashes}{authority}{slash}{path}"
    return f"{head}{question}{redact_pairs(query)}{hash_mark}{redact_pairs(fragment)}"


def redact_headers(
    headers: Iterable[tuple[str, str]], include_sensitive: bool
) -> list[tuple[str, str]]:
    """Header pairs with credentials (the four, and names like ``X-Api-Key``) hidden.

    URL-valued headers keep their URL with its tokens hidden.
    """
    if include_sensitive:
        return list(headers)
    result = []
    for name, value in headers:
        lower = name.lower()
        if lower in SENSITIVE_HEADERS or secret_name(name):
            shown = REDACTED
        elif lower in URL_HEADERS:
            shown = redact_url(value)
        else:
            shown = value
        result.append((name, shown))
    return result


def redact_json(value: Any, depth: int = 0) -> Any:
    """A parsed JSON value with the values of secret keys hidden, at any depth."""
    if depth > _MAX_DEPTH:
        raise RecursionError("too deep")
    if isinstance(value, dict):
        return {
            key: REDACTED if secret_name(str(key)) else redact_json(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_json(item, depth + 1) for item in value]
    return value


def _json_body(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return text  # not JSON after all: nothing structured to hide
    except RecursionError:
        return REDACTED
    try:
        redacted = redact_json(document)
    except RecursionError:
        return REDACTED
    if redacted == document:
        return text
    return json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))


_FORM = re.compile(r"[^=&\s]+=[^&\s]*(?:&[^=&\s]+=[^&\s]*)*")
"""A body that reads as ``name=value&name=value`` (how a form is sniffed without a type)."""


def body_kind(content_type: str, text: str) -> str | None:
    """``"form"``, ``"json"`` or None: how a body of this type is read for secrets."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return "form"
    if media.endswith(("/json", "+json")) or media in ("text/json", "application/jsonl"):
        return "json"
    if not media and text.lstrip()[:1] in ("{", "["):
        return "json"
    if not media and _FORM.fullmatch(text.strip()):
        return "form"  # no type known (a request line without its headers): looks like one
    return None


def redact_body(text: str, content_type: str) -> str:
    """A text body with the values of secret names hidden when it is a form or JSON."""
    kind = body_kind(content_type, text)
    if kind == "form":
        return redact_pairs(text)
    if kind == "json":
        return _json_body(text)
    return text
