"""Settings: command-line flags, then environment, then the config file, then defaults.

This module is the only place that knows the order. The config file is YAML in
the platform's config directory (``~/.config/livetap/config.yaml`` on Linux),
or the file named by ``--config`` / ``LIVETAP_CONFIG``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import BadInputError, NotFoundError, PermissionDeniedError, UsageError
from engine.list_config import (
    DEFAULT_COLUMNS,
    DEFAULT_RULES,
    ColourRule,
    ColumnSpec,
    parse_columns,
    parse_rules,
)

TIME_FORMATS = ("relative", "delta", "delta_displayed", "absolute", "utc", "epoch")
"""The packet list's time display formats (``timeFormat``), as Wireshark's View > Time
Display Format: since the first packet, since the previous captured packet, since the
previous displayed packet, time of day, UTC date and time, seconds since 1970."""

DEFAULT_SNAPLEN = 65535
DEFAULT_BUFFER = 8 << 20
"""The kernel's capture ring: 32 blocks of 256 KiB. A block is handed over after 20 ms
even when part full, so at 20,000 packets/s the ring spans 32 × 20 ms = 640 ms of
traffic: room for the pauses of a Python process (a full garbage collection of the
UI takes 100-200 ms); with 2 MiB (160 ms) a 30-minute soak beside a browser lost 0.05% (counted)."""
DEFAULT_RING = 100_000
DEFAULT_MAX_REQUESTS = 100_000
"""Browser requests held before the oldest are dropped: about 180 MB in all (under 2 kB each,
about 6 kB while it is among the list's newest 5,000 rows; benchmarks/browser_memory.py)."""

FILE_KEYS = {
    "defaultInterface": "interface",
    "snapLength": "snaplen",
    "bufferSize": "buffer_size",
    "maxCaptureSize": "max_capture_size",
    "captureDirectory": "capture_directory",
    "ringSize": "ring_size",
    "maxRequests": "max_requests",
    "preserveLog": "preserve_log",
    "theme": "theme",
    "processes": "processes",
    "timeFormat": "time_format",
    "packetColumns": "packet_columns",
    "colouring": "colouring",
    "colouringRules": "colour_rules",
}
"""Config-file keys and the setting each one sets."""

SECTIONS = frozenset({"mcp"})
"""Config-file sections one subcommand reads itself (``livetap mcp``); the rest skip them."""

ENV_KEYS = {
    "CAPTURE_INTERFACE": "interface",
    "CAPTURE_SNAPLEN": "snaplen",
    "CAPTURE_BUFFER": "buffer_size",
}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a capture needs to know before it starts."""

    interface: str | None
    """None: use the interface of the default route."""
    snaplen: int = DEFAULT_SNAPLEN
    buffer_size: int = DEFAULT_BUFFER
    ring_size: int = DEFAULT_RING
    max_requests: int = DEFAULT_MAX_REQUESTS
    """Browser requests the pane holds; a long session reaches it and then stays flat."""
    preserve_log: bool = True
    """The request list keeps a tab's requests when it navigates (False: clears them, as
    DevTools does without "Preserve log"); P switches it while livetap runs."""
    max_capture_size: int | None = None
    capture_directory: Path = Path()
    config_file: Path | None = None
    """The file the settings came from, if one was read."""
    theme: str | None = None
    """The theme to start with (``--theme``, ``theme:`` in the config file)."""
    processes: bool = True
    """Tie a live capture's packets to programs (``--no-process``, ``processes: false``)."""
    time_format: str = "relative"
    """The packet list's Time column (``timeFormat``; one of TIME_FORMATS)."""
    packet_columns: tuple[ColumnSpec, ...] = DEFAULT_COLUMNS
    """The packet list's columns, in order (``packetColumns``)."""
    colouring: bool = True
    """Colour the packet list's rows by the colouring rules (``colouring``)."""
    colour_rules: tuple[ColourRule, ...] = DEFAULT_RULES
    """The colouring rules, first match wins (``colouringRules``; Wireshark's by default)."""


def config_dir() -> Path:
    """The platform's config directory for livetap."""
    import platformdirs

    return Path(platformdirs.user_config_dir("livetap"))


def default_config_path() -> Path:
    """Where livetap looks for its config file unless told otherwise."""
    return config_dir() / "config.yaml"


def parse_size(text: str | int, what: str) -> int:
    """A byte count from ``2097152``, ``2M``, ``2MiB`` or ``512k`` (binary units)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _SIZE.match(str(text))
        if not match:
            raise UsageError(f"{what} must be a size like 2097152, 2M or 512KiB, not {text!r}")
        value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value <= 0:
        raise UsageError(f"{what} must be greater than zero, not {text!r}")
    return value


def _parse_int(text: str | int, what: str, low: int, high: int) -> int:
    """A whole number within bounds, or a UsageError naming the setting."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a whole number, not {text!r}") from None
    if not low <= value <= high:
        raise UsageError(f"{what} must be between {low} and {high}, not {value}")
    return value


def read_config_file(path: Path, required: bool) -> dict[str, Any]:
    """The settings in a YAML config file, by setting name; unknown keys are errors."""

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise NotFoundError(f"config file {path} does not exist") from None
        return {}
    except PermissionError:
        if required:
            raise PermissionDeniedError(
                f"cannot read config file {path}: permission denied"
            ) from None
        return {}  # another user's default config (e.g. under sudo -u): not ours to read
    except OSError as error:
        raise BadInputError(f"cannot read config file {path}: {error.strerror}") from None
    data = _yaml_mapping(text, path)
    unknown = sorted(str(key) for key in data if key not in FILE_KEYS and key not in SECTIONS)
    if unknown:
        known = ", ".join([*FILE_KEYS, *sorted(SECTIONS)])
        raise BadInputError(f"config file {path}: unknown key {unknown[0]!r} (known: {known})")
    return {
        FILE_KEYS[key]: value
        for key, value in data.items()
        if value is not None and key not in SECTIONS
    }


def load_settings(
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Merge flags, environment, config file and defaults, in that order of precedence."""
    environ = os.environ if environ is None else environ
    explicit = config_path or (
        Path(environ["LIVETAP_CONFIG"]) if environ.get("LIVETAP_CONFIG") else None
    )
    path = explicit or default_config_path()
    merged: dict[str, Any] = read_config_file(path, required=explicit is not None)
    source_file = path if merged or explicit else None
    merged.update({name: environ[key] for key, name in ENV_KEYS.items() if environ.get(key)})
    merged.update({name: value for name, value in flags.items() if value is not None})
    return _validate(merged, source_file)


def _validate(values: dict[str, Any], source_file: Path | None) -> Settings:
    """Check and convert every value; messages name the setting."""
    directory = Path(str(values.get("capture_directory", Path.cwd()))).expanduser()
    max_size = values.get("max_capture_size")
    return Settings(
        interface=str(values["interface"]) if values.get("interface") else None,
        snaplen=_parse_int(values.get("snaplen", DEFAULT_SNAPLEN), "snap length", 64, 262144),
        buffer_size=parse_size(values.get("buffer_size", DEFAULT_BUFFER), "buffer size"),
        ring_size=_parse_int(values.get("ring_size", DEFAULT_RING), "ring size", 1, 100_000_000),
        max_requests=_parse_int(
            values.get("max_requests", DEFAULT_MAX_REQUESTS), "max requests", 1, 10_000_000
        ),
        preserve_log=_parse_bool(values.get("preserve_log", True), "preserve log"),
        max_capture_size=parse_size(max_size, "max capture size") if max_size else None,
        capture_directory=directory,
        config_file=source_file,
        theme=str(values["theme"]) if values.get("theme") else None,
        processes=_parse_bool(values.get("processes", True), "processes"),
        time_format=_parse_time_format(values.get("time_format", "relative")),
        packet_columns=parse_columns(values["packet_columns"])
        if "packet_columns" in values
        else DEFAULT_COLUMNS,
        colouring=_parse_bool(values.get("colouring", True), "colouring"),
        colour_rules=parse_rules(values["colour_rules"])
        if "colour_rules" in values
        else DEFAULT_RULES,
    )


def _parse_time_format(value: Any) -> str:
    """One of TIME_FORMATS, or a UsageError listing them."""
    text = str(value).strip().lower()
    if text not in TIME_FORMATS:
        raise UsageError(f"time format must be one of {', '.join(TIME_FORMATS)}, not {value!r}")
    return text


def write_config_key(path: Path, key: str, value: Any) -> None:
    """Set one key of the YAML config file (made if missing), keeping the others.

    The file is read and written whole (its comments are not kept); it is written
    readable by its owner only, as livetap writes every file.
    """
    import yaml

    if key not in FILE_KEYS:
        raise UsageError(f"unknown config key {key!r}")
    data = read_raw_config(path)
    data[key] = value
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise BadInputError(f"cannot write config file {path}: {error.strerror}") from None


def read_raw_config(path: Path) -> dict[str, Any]:
    """The config file's mapping as written (file keys, sections), empty when it is missing."""

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise BadInputError(f"cannot read config file {path}: {error.strerror}") from None
    return _yaml_mapping(text, path)


def _parse_bool(value: Any, name: str) -> bool:
    """A yes/no setting: a YAML boolean, or true/false/yes/no/on/off as text; else a
    UsageError naming the setting, as the other settings' errors do."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise UsageError(f"{name} must be true or false, not {value!r}")


SERVE_PORT_ENV = "LIVETAP_SERVE_PORT"
"""Set by ``livetap serve`` for the livetap each page runs: the port its page talks over."""


def served_port(environ: Mapping[str, str] | None = None) -> int | None:
    """The TCP port of the ``livetap serve`` that started this livetap, if one did.

    Its page's websocket crosses ``lo``: a capture there leaves that port out.
    """
    environ = os.environ if environ is None else environ
    text = environ.get(SERVE_PORT_ENV, "")
    if not text.isdigit() or not 0 < int(text) < 65536:
        return None
    return int(text)


def _yaml_mapping(text: str, path: Path) -> dict[str, Any]:
    """A config file's text as a mapping ({} when empty); not YAML or not a mapping: an error."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise BadInputError(f"config file {path} is not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInputError(f"config file {path} must be a mapping of keys to values")
    return data
