"""Theme files (TOML) and their loader.

A theme is the Textual colour set plus livetap's own variables: the protocol
colours of the packet list (``proto-*``), the HTTP status colours (``status-*``) and
the row backgrounds of the colouring rules (``rule-*``). Built-in themes ship as
TOML files in this package; users add their own in ``<config dir>/themes/``. Every
file is validated, and a bad one gives a message naming the file, the key and the
problem.
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
from dataclasses import fields
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

PACKAGE_DIR = Path(__file__).parent
DEFAULT_THEME = "livetap-dark"

PROTOCOL_KEYS = ("tcp", "udp", "dns", "http", "tls", "icmp", "arp", "other")
STATUS_KEYS = ("2xx", "3xx", "4xx", "5xx", "failed")
RULE_KEYS = ("bad", "error", "reset")
"""Row backgrounds of the packet list's colouring rules (``rule-bad`` …)."""
VARIABLE_DEFAULTS: dict[str, str] = {
    "proto-tcp": "#8fbcbb",
    "proto-udp": "#88c0d0",
    "proto-dns": "#b48ead",
    "proto-http": "#a3be8c",
    "proto-tls": "#ebcb8b",
    "proto-icmp": "#d08770",
    "proto-arp": "#e5c07b",
    "proto-other": "#d8dee9",
    "status-2xx": "#a3be8c",
    "status-3xx": "#88c0d0",
    "status-4xx": "#ebcb8b",
    "status-5xx": "#bf616a",
    "status-failed": "#bf616a",
    "rule-bad": "#5a1f2a",
    "rule-error": "#4d4513",
    "rule-reset": "#8b1a1a",
}
"""Every livetap variable, so a theme that leaves one out still renders."""

RULE_COLOURS = frozenset(
    {*VARIABLE_DEFAULTS, "primary", "secondary", "accent", "warning", "error", "success", "panel"}
)
"""The theme variables a colouring rule may name: every theme defines them."""
_COLOUR_FIELDS = frozenset(
    f.name
    for f in fields(Theme)
    if f.name not in {"name", "dark", "luminosity_spread", "text_alpha", "variables", "ansi"}
)
_ALL_FIELDS = frozenset(f.name for f in fields(Theme))
_FRACTIONS = ("luminosity_spread", "text_alpha")
"""Numbers Textual divides and scales with: a string or NaN there crashes the app when drawn."""
MAX_THEME_BYTES = 64 * 1024
"""A theme is a few dozen lines; a bigger file is refused unread."""
MAX_NAME = 64


class ThemeError(ValueError):
    """A theme file that cannot be used; the message names the file and the key."""


def _check_colour(path: Path, key: str, value: object) -> str:
    """A colour Textual can parse, or a ThemeError naming it."""
    if not isinstance(value, str):
        raise ThemeError(f"{path}: {key} must be a colour string, not {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{path}: {key} = {value!r} is not a colour") from None
    return value


def parse_theme(text: str, path: Path) -> Theme:
    """Validate the TOML text of a theme file and build the Theme."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ThemeError(f"{path}: not valid TOML: {error}") from None
    except RecursionError:  # tomllib recurses into nested arrays and tables
        raise ThemeError(f"{path}: not valid TOML: it nests too deeply") from None
    unknown = sorted(set(data) - _ALL_FIELDS)
    if unknown:
        raise ThemeError(f"{path}: unknown key {unknown[0]!r}")
    name = data.get("name")
    if (
        not isinstance(name, str)
        or not name.replace("-", "").replace("_", "").isalnum()
        or not name.isascii()
        or len(name) > MAX_NAME
    ):
        shown = name[:MAX_NAME] + "..." if isinstance(name, str) and len(name) > MAX_NAME else name
        raise ThemeError(
            f"{path}: name must be up to {MAX_NAME} letters, digits, '-' or '_', not {shown!r}"
        )
    if "primary" not in data:
        raise ThemeError(f"{path}: primary colour is missing")
    for key in _COLOUR_FIELDS & set(data):
        _check_colour(path, key, data[key])
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeError(f"{path}: [variables] must be a table")
    for key, value in variables.items():
        if key not in VARIABLE_DEFAULTS:
            raise ThemeError(
                f"{path}: unknown variable {key!r} (known: {', '.join(VARIABLE_DEFAULTS)})"
            )
        _check_colour(path, f"variables.{key}", value)
    if not isinstance(data.get("dark", True), bool):
        raise ThemeError(f"{path}: dark must be true or false")
    if data.get("ansi", False) is not False:  # Textual's ANSI mode lacks variables livetap uses
        raise ThemeError(f"{path}: ansi must be false (livetap themes give real colours)")
    for key in _FRACTIONS:
        value = data.get(key, 0.5)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and 0 <= value <= 1)
        ):
            raise ThemeError(f"{path}: {key} must be a number from 0 to 1, not {value!r}")
    return Theme(**data)


def load_theme_file(path: Path) -> Theme:
    """Read and validate one theme file."""
    try:
        # O_NONBLOCK: a FIFO named *.toml must not hang the start; only regular files are read
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise ThemeError(f"{path}: cannot read it: not a regular file")
            raw = stream.read(MAX_THEME_BYTES + 1)
        if len(raw) > MAX_THEME_BYTES:
            raise ThemeError(f"{path}: a theme file may be at most {MAX_THEME_BYTES:,} bytes")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ThemeError(f"{path}: cannot read it: {error}") from None
    return parse_theme(text, path)


def builtin_themes() -> list[Theme]:
    """The themes shipped with livetap."""
    return [load_theme_file(path) for path in sorted(PACKAGE_DIR.glob("*.toml"))]


def user_themes(directory: Path) -> tuple[list[Theme], list[str]]:
    """Themes from a user folder, and one message per file that was refused."""
    themes: list[Theme] = []
    problems: list[str] = []
    try:
        paths = sorted(directory.glob("*.toml")) if directory.is_dir() else []
    except OSError as error:  # e.g. another user's config dir under sudo -u
        return themes, [f"{directory}: cannot read it: {error.strerror or error}"]
    for path in paths:
        try:
            themes.append(load_theme_file(path))
        except ThemeError as error:
            problems.append(str(error))
    return themes, problems
