"""Cleartext credentials: HTTP Basic auth, HTTP form posts, FTP, POP3, IMAP, SMTP and Telnet.

Readers follow the login exchange of a stream (client commands, server verdicts),
line by line and within a small byte budget, so a long FTP or IMAP session costs
nothing after its login. Secrets are kept as seen and masked when a report is built
(first character and ``***``) unless the user asked to see them.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl, unquote_plus

from engine.analysis.addresses import format_endpoint

if TYPE_CHECKING:
    from engine.analysis.conversations import TcpStream

LOGIN_PORTS: Final[dict[int, str]] = {
    21: "FTP",
    23: "Telnet",
    25: "SMTP",
    110: "POP3",
    143: "IMAP",
    587: "SMTP",
}
"""The server ports whose streams are read for logins, and the protocol's name."""

BUDGET: Final = 16 * 1024
"""Bytes read per direction of a login stream; logins come first."""
MAX_LINE: Final = 2048
_PASSWORD_FIELD: Final = re.compile(r"pass|pwd|secret|passcode|\bpin\b", re.IGNORECASE)
_USER_FIELD: Final = re.compile(r"user|login|e-?mail|account|\buid\b|\bname\b", re.IGNORECASE)
_TELNET_USER_PROMPTS: Final = (b"login:", b"username:", b"user name:", b"user:")
_TELNET_FAILURES: Final = (b"incorrect", b"failed", b"denied", b"invalid")
_TELNET_SUCCESS: Final = (b"last login", b"welcome", b"$ ", b"# ", b"> ")


def mask(secret: str) -> str:
    """The first character and three stars: enough to recognise, never the length."""
    return f"{secret[:1]}***" if secret else "***"


def masked_url(url: str) -> str:
    """``url`` with the value of every password-like query parameter masked.

    A login by GET puts the password in the URL, which the HTTP and credentials
    reports show; masked there too unless the user asks for secrets.
    """
    base, question, query = url.partition("?")
    if not question:
        return url
    query, hash_mark, fragment = query.partition("#")
    pairs = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        if equals and value and _PASSWORD_FIELD.search(unquote_plus(name)):
            value = mask(unquote_plus(value))
        pairs.append(f"{name}{equals}{value}")
    return f"{base}?{'&'.join(pairs)}{hash_mark}{fragment}"


@dataclass(slots=True)
class Credential:
    """A username/secret pair seen in cleartext, where and when."""

    protocol: str
    """"HTTP Basic", "HTTP form", "HTTP query", "FTP", "POP3", "IMAP", "SMTP" or "Telnet"."""
    time: float
    client: str
    server: str
    username: str | None
    secret: str
    stream: int
    where: str = ""
    """The URL for HTTP, the command for others."""
    accepted: bool | None = None
    """The server's verdict when it was seen: True accepted, False refused."""

    def to_json(self, show_secrets: bool) -> dict[str, object]:
        """The report row, the secret masked unless asked otherwise."""
        return {
            "protocol": self.protocol,
            "time": self.time,
            "client": self.client,
            "server": self.server,
            "username": self.username,
            "secret": self.secret if show_secrets else mask(self.secret),
            "stream": self.stream,
            "where": self.where if show_secrets else masked_url(self.where),
            "accepted": self.accepted,
        }


class CredentialLog:
    """Every credential found, bounded; ``total`` keeps counting past the bound."""

    def __init__(self, limit: int) -> None:
        self.items: list[Credential] = []
        self.total = 0
        self.limit = limit

    def add(self, credential: Credential) -> Credential:
        """Keep a credential (the first ``limit`` of them)."""
        self.total += 1
        if len(self.items) < self.limit:
            self.items.append(credential)
        return credential

    def found(
        self,
        stream: TcpStream,
        client_is_a: bool,
        protocol: str,
        time: float,
        *,
        username: str | None,
        secret: str,
        where: str = "",
    ) -> Credential:
        """Record a credential of a TCP stream; client and server from the stream's sides."""
        a = format_endpoint(stream.a, stream.aport)
        b = format_endpoint(stream.b, stream.bport)
        client, server = (a, b) if client_is_a else (b, a)
        return self.add(
            Credential(protocol, time, client, server, username, secret, stream.index, where)
        )


def _text(raw: bytes) -> str:
    """Protocol bytes as text (latin-1 keeps every byte)."""
    return raw.decode("latin-1")


def _b64(text: str) -> str | None:
    """A base64 string decoded to text, or None when it is not base64."""
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def _plain(decoded: str) -> tuple[str | None, str] | None:
    """A SASL PLAIN message (authzid NUL user NUL password) as (user, password)."""
    parts = decoded.split("\x00")
    if len(parts) != 3:
        return None
    return parts[1] or parts[0] or None, parts[2]


def _imap_words(line: str) -> list[str]:
    """IMAP atoms and quoted strings (with backslash escapes)."""
    return [
        word[1:-1].replace('\\"', '"').replace("\\\\", "\\") if word.startswith('"') else word
        for word in re.findall(r'"(?:[^"\\]|\\.)*"|\S+', line)
    ]


class LoginReader:
    """Follows one FTP/POP3/IMAP/SMTP/Telnet stream's login exchange."""

    __slots__ = (
        "_budget",
        "_buffers",
        "_log",
        "_pending",
        "_state",
        "_stream",
        "_tag",
        "_telnet_line",
        "client_is_a",
        "protocol",
        "user",
    )

    def __init__(
        self, protocol: str, log: CredentialLog, stream: TcpStream, client_is_a: bool
    ) -> None:
        self.protocol = protocol
        self.client_is_a = client_is_a
        self.user: str | None = None
        self._log = log
        self._stream = stream
        self._buffers = [bytearray(), bytearray()]
        self._budget = [BUDGET, BUDGET]
        self._pending: Credential | None = None
        self._state = ""
        self._tag = ""
        self._telnet_line = bytearray()

    def feed(self, from_client: bool, payload: bytes, time: float) -> None:
        """A segment's payload from one side; complete lines are acted on."""
        side = 0 if from_client else 1
        if self._budget[side] <= 0 or not payload:
            return
        self._budget[side] -= len(payload)
        if self.protocol == "Telnet":
            self._telnet(from_client, payload, time)
            return
        buffer = self._buffers[side]
        buffer += payload
        while True:
            newline = buffer.find(b"\n")
            if newline < 0:
                if len(buffer) > MAX_LINE:
                    buffer.clear()
                return
            line = _text(bytes(buffer[:newline])).rstrip("\r")
            del buffer[: newline + 1]
            if from_client:
                self._client_line(line, time)
            else:
                self._server_line(line)

    # -- line protocols ------------------------------------------------------------

    def _found(self, username: str | None, secret: str, time: float, where: str) -> None:
        self._pending = self._log.found(
            self._stream,
            self.client_is_a,
            self.protocol,
            time,
            username=username,
            secret=secret,
            where=where,
        )

    def _client_line(self, line: str, time: float) -> None:
        """A command from the client."""
        if self._state:
            self._continuation(line, time)
            return
        if self.protocol == "IMAP":
            self._imap(line, time)
            return
        command, _, argument = line.partition(" ")
        command = command.upper()
        if command == "USER" and self.protocol in ("FTP", "POP3"):
            self.user = argument
        elif command == "PASS" and self.protocol in ("FTP", "POP3"):
            self._found(self.user, argument, time, "PASS")
        elif command == "AUTH" and self.protocol == "SMTP":
            mechanism, _, initial = argument.partition(" ")
            mechanism = mechanism.upper()
            if mechanism == "PLAIN":
                if initial:
                    self._sasl_plain(initial, time, "AUTH PLAIN")
                else:
                    self._state = "plain"
            elif mechanism == "LOGIN":
                if initial:
                    self.user = _b64(initial)
                    self._state = "login-password"
                else:
                    self._state = "login-user"

    def _continuation(self, line: str, time: float) -> None:
        """The client's answer to a SASL challenge (SMTP AUTH, IMAP AUTHENTICATE)."""
        state, self._state = self._state, ""
        if line.strip() == "*":  # the client cancelled
            return
        if state == "plain":
            self._sasl_plain(line, time, "AUTH PLAIN")
        elif state == "login-user":
            self.user = _b64(line)
            self._state = "login-password"
        elif state == "login-password":
            secret = _b64(line)
            if secret is not None:
                self._found(self.user, secret, time, "AUTH LOGIN")

    def _sasl_plain(self, encoded: str, time: float, where: str) -> None:
        decoded = _b64(encoded)
        parsed = _plain(decoded) if decoded is not None else None
        if parsed is not None:
            self._found(parsed[0], parsed[1], time, where)

    def _imap(self, line: str, time: float) -> None:
        words = _imap_words(line)
        if len(words) < 2:
            return
        command = words[1].upper()
        if command == "LOGIN" and len(words) >= 4:
            self._tag = words[0]
            self.user = words[2]
            self._found(words[2], words[3], time, "LOGIN")
        elif command == "AUTHENTICATE" and len(words) >= 3 and words[2].upper() == "PLAIN":
            self._tag = words[0]
            if len(words) >= 4:
                self._sasl_plain(words[3], time, "AUTHENTICATE PLAIN")
            else:
                self._state = "plain"

    def _server_line(self, line: str) -> None:
        """A server reply: the verdict on the last credential, if one waits for it."""
        pending = self._pending
        if pending is None or pending.accepted is not None:
            return
        verdict: bool | None = None
        if self.protocol in {"FTP", "SMTP"}:
            code = line[:3]
            if code.isdigit() and code[0] in "245" and line[3:4] in (" ", ""):
                verdict = code[0] == "2"
        elif self.protocol == "POP3":
            if line.startswith("+OK"):
                verdict = True
            elif line.startswith("-ERR"):
                verdict = False
        elif self.protocol == "IMAP":
            tag, _, rest = line.partition(" ")
            if tag == self._tag:
                status = rest.split(" ", 1)[0].upper()
                verdict = status == "OK" if status in ("OK", "NO", "BAD") else None
        if verdict is not None:
            pending.accepted = verdict

    # -- Telnet --------------------------------------------------------------------

    def _telnet(self, from_client: bool, payload: bytes, time: float) -> None:
        """Prompts from the server, keystrokes from the client (often one per segment)."""
        text = _strip_telnet_commands(payload)
        if not from_client:
            lower = text.lower()
            if self._pending is not None and self._pending.accepted is None:
                if any(word in lower for word in _TELNET_FAILURES):
                    self._pending.accepted = False
                elif any(word in lower for word in _TELNET_SUCCESS):
                    self._pending.accepted = True
            if b"password:" in lower or b"passcode:" in lower:
                self._state = "password"
                self._telnet_line.clear()
            elif any(prompt in lower for prompt in _TELNET_USER_PROMPTS):
                self._state = "user"
                self._telnet_line.clear()
            return
        line = self._telnet_line
        for byte in text:
            if byte in (0x0D, 0x0A, 0x00):
                if self._state and (line or byte != 0x00):
                    self._telnet_done(_text(bytes(line)), time)
                line.clear()
            elif byte in (0x08, 0x7F):
                if line:
                    del line[-1]
            elif byte >= 0x20 and len(line) < MAX_LINE:
                line.append(byte)

    def _telnet_done(self, line: str, time: float) -> None:
        state, self._state = self._state, ""
        if state == "user":
            self.user = line
        elif state == "password":
            self._found(self.user, line, time, "login")


def _strip_telnet_commands(payload: bytes) -> bytes:
    """Telnet data without its IAC commands and option negotiation."""
    if b"\xff" not in payload:
        return payload
    out = bytearray()
    position = 0
    size = len(payload)
    while position < size:
        byte = payload[position]
        if byte != 0xFF:
            out.append(byte)
            position += 1
            continue
        command = payload[position + 1] if position + 1 < size else 0
        if command == 0xFF:
            out.append(0xFF)
            position += 2
        elif command == 0xFA:  # subnegotiation, up to IAC SE
            end = payload.find(b"\xff\xf0", position + 2)
            position = size if end < 0 else end + 2
        elif 0xFB <= command <= 0xFE:
            position += 3
        else:
            position += 2
    return bytes(out)


# -- HTTP ------------------------------------------------------------------------------


def http_basic(header_value: str) -> tuple[str | None, str] | None:
    """The (user, password) of an ``Authorization: Basic`` header value."""
    scheme, _, encoded = header_value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    decoded = _b64(encoded)
    if decoded is None:
        return None
    user, colon, password = decoded.partition(":")
    if not colon:
        return None
    return user or None, password


def form_secrets(body: str) -> list[tuple[str | None, str, str]]:
    """Password fields of a form body or query string: (user, secret, field name)."""
    if "%" not in body and "+" not in body and not _PASSWORD_FIELD.search(body):
        return []  # no field name can match once decoded: each is a piece of the body
    try:
        fields = parse_qsl(body, keep_blank_values=True, max_num_fields=200)
    except ValueError:
        return []
    user = next((value for name, value in fields if _USER_FIELD.search(name) and value), None)
    return [(user, value, name) for name, value in fields if _PASSWORD_FIELD.search(name) and value]
