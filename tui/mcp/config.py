"""The MCP server's own configuration: its caps, its capture directory, its switches.

Everything here comes from ``livetap mcp``'s command line and its config file,
never from a tool call. The config file is livetap's usual YAML file with one
more section, ``mcp:``, that only ``livetap mcp`` reads (the other commands
skip it, so one file serves them all)::

    captureDirectory: /var/lib/livetap/mcp
    maxCaptureSize: 200M
    mcp:
      maxDuration: 30          # seconds per capture_packets call
      maxCount: 5000           # packets per capture_packets call
      maxBytes: 20M            # bytes one capture may write
      maxNdjsonDuration: 600   # seconds before the server stops an NDJSON capture
      browser: launch          # or 9222, host:port, ws://...
      allowRemoteBrowser: false
      showSecrets: false
      readAnywhere: false

Flags win over the file; livetap's own keys keep their usual order (flags,
environment, file, defaults) through :func:`engine.config.load_settings`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.browser.target import parse_browser_spec
from engine.config import (
    ENV_KEYS,
    FILE_KEYS,
    Settings,
    default_config_path,
    load_settings,
    parse_size,
)
from engine.errors import (
    BadInputError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
    from_os_error,
)

DEFAULT_MAX_DURATION = 60.0
DEFAULT_MAX_COUNT = 10_000
DEFAULT_MAX_BYTES = 50 << 20
DEFAULT_MAX_NDJSON_DURATION = 600.0

MCP_KEYS = {
    "maxDuration": "max_duration",
    "maxCount": "max_count",
    "maxBytes": "max_bytes",
    "maxNdjsonDuration": "max_ndjson_duration",
    "browser": "browser",
    "chromium": "chromium",
    "allowRemoteBrowser": "allow_remote_browser",
    "showSecrets": "show_secrets",
    "readAnywhere": "read_anywhere",
}
"""Keys of the config file's ``mcp:`` section, and the setting each one sets."""
_FLAG_NAMES = {
    "max_duration": "--max-duration",
    "max_count": "--max-count",
    "max_bytes": "--max-bytes",
    "max_ndjson_duration": "--max-ndjson-duration",
    "browser": "--browser",
    "chromium": "--chromium",
}
_SWITCHES = ("allow_remote_browser", "show_secrets", "read_anywhere")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What the server allows: fixed when it starts, the same for every tool call."""

    settings: Settings
    """livetap's own settings (interface, snap length, kernel buffer ...)."""
    capture_directory: Path
    """Absolute and resolved; every file a tool writes is inside it."""
    max_duration: float = DEFAULT_MAX_DURATION
    max_count: int = DEFAULT_MAX_COUNT
    max_bytes: int = DEFAULT_MAX_BYTES
    """Bytes one capture may write (at most the config's maxCaptureSize)."""
    max_ndjson_duration: float = DEFAULT_MAX_NDJSON_DURATION
    browser: str = "launch"
    chromium: str | None = None
    allow_remote_browser: bool = False
    show_secrets: bool = False
    read_anywhere: bool = False

    def describe(self) -> dict[str, Any]:
        """The configuration as an agent may read it (the ``livetap://server/config`` resource)."""
        return {
            "capture_directory": str(self.capture_directory),
            "max_duration_seconds": self.max_duration,
            "max_count": self.max_count,
            "max_bytes": self.max_bytes,
            "max_ndjson_duration_seconds": self.max_ndjson_duration,
            "default_interface": self.settings.interface,
            "snaplen": self.settings.snaplen,
            "browser": self.browser,
            "allow_remote_browser": self.allow_remote_browser,
            "show_secrets": self.show_secrets,
            "read_anywhere": self.read_anywhere,
        }


def default_capture_directory() -> Path:
    """The server's directory when none is configured (an MCP client's cwd is arbitrary)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("livetap")) / "mcp"


def load_server_config(
    flags: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """Flags over the config file over defaults; every value checked, messages name it.

    ``flags`` holds ``config`` (a Path), ``capture_directory``, the caps
    (``max_duration``, ``max_count``, ``max_bytes``, ``max_ndjson_duration``),
    ``browser``, ``chromium``, the switches (True or absent) and livetap's own
    ``interface``, ``snaplen`` and ``buffer_size``.
    """
    environ = os.environ if environ is None else environ
    explicit = flags.get("config") or (
        Path(environ["LIVETAP_CONFIG"]) if environ.get("LIVETAP_CONFIG") else None
    )
    path = Path(explicit) if explicit else default_config_path()
    livetap_values, section = _read_file(path, required=explicit is not None)
    own = {
        name: flags.get(name)
        for name in ("interface", "snaplen", "buffer_size", "capture_directory")
    }
    settings = _settings(livetap_values, own, environ)
    values: dict[str, Any] = {MCP_KEYS[key]: value for key, value in section.items()}
    values.update({name: flags[name] for name in _FLAG_NAMES if flags.get(name) is not None})
    values.update({name: True for name in _SWITCHES if flags.get(name)})
    directory_given = bool(own["capture_directory"]) or "capture_directory" in livetap_values
    return _validate(values, settings, directory_given, path)


def _read_file(path: Path, required: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """livetap's keys (by setting name) and the ``mcp:`` section (by key) of the config file."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise NotFoundError(f"config file {path} does not exist") from None
        return {}, {}
    except PermissionError:
        if required:
            raise PermissionDeniedError(
                f"cannot read config file {path}: permission denied"
            ) from None
        return {}, {}
    except OSError as error:
        raise from_os_error(error, f"read config file {path}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise BadInputError(f"config file {path} is not valid YAML: {error}") from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise BadInputError(f"config file {path} must be a mapping of keys to values")
    section = data.pop("mcp", None) or {}
    if not isinstance(section, dict):
        raise BadInputError(f"config file {path}: 'mcp' must be a mapping of keys to values")
    for keys, known, where in ((data, FILE_KEYS, ""), (section, MCP_KEYS, "mcp.")):
        unknown = sorted(str(key) for key in keys if key not in known)
        if unknown:
            names = ", ".join(known)
            raise BadInputError(
                f"config file {path}: unknown key {where}{unknown[0]!r} (known: {names})"
            )
    livetap = {FILE_KEYS[key]: value for key, value in data.items() if value is not None}
    return livetap, {key: value for key, value in section.items() if value is not None}


def _settings(
    file_values: Mapping[str, Any], flags: Mapping[str, Any], environ: Mapping[str, str]
) -> Settings:
    """livetap's settings in load_settings's order: flags, environment, file, defaults.

    The file was read here already (with its ``mcp:`` section checked), so its
    livetap keys go in as the lowest layer of flags (below the environment's)
    and load_settings is given an empty file.
    """
    from_environment = {name for key, name in ENV_KEYS.items() if environ.get(key)}
    layered = {name: value for name, value in file_values.items() if name not in from_environment}
    layered.update({name: value for name, value in flags.items() if value is not None})
    return load_settings(layered, environ, config_path=Path(os.devnull))


def _validate(
    values: dict[str, Any], settings: Settings, directory_given: bool, source: Path
) -> ServerConfig:
    """Check every value; the message names the flag or the key it came from."""
    max_bytes = _size(values.get("max_bytes", DEFAULT_MAX_BYTES), "max_bytes")
    if settings.max_capture_size is not None:
        max_bytes = min(max_bytes, settings.max_capture_size)
    switches = {name: _switch(values.get(name, False), name, source) for name in _SWITCHES}
    browser = str(values.get("browser") or "launch")
    chromium = str(values["chromium"]) if values.get("chromium") else None
    parse_browser_spec(browser, chromium=chromium, allow_remote=switches["allow_remote_browser"])
    max_duration = _seconds(values.get("max_duration", DEFAULT_MAX_DURATION), "max_duration")
    max_count = _count(values.get("max_count", DEFAULT_MAX_COUNT), "max_count")
    max_ndjson_duration = _seconds(
        values.get("max_ndjson_duration", DEFAULT_MAX_NDJSON_DURATION), "max_ndjson_duration"
    )
    return ServerConfig(
        settings=settings,
        capture_directory=_directory(settings.capture_directory, directory_given),
        max_duration=max_duration,
        max_count=max_count,
        max_bytes=max_bytes,
        max_ndjson_duration=max_ndjson_duration,
        browser=browser,
        chromium=chromium,
        **switches,
    )


def _name(setting: str) -> str:
    """How a person wrote the setting: its flag and its config key."""
    key = next(key for key, name in MCP_KEYS.items() if name == setting)
    flag = _FLAG_NAMES.get(setting, "--" + setting.replace("_", "-"))
    return f"{flag} (mcp.{key})"


def _seconds(value: Any, setting: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{_name(setting)} must be a number of seconds, not {value!r}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"{_name(setting)} must be more than 0 seconds, not {value!r}")
    return seconds


def _count(value: Any, setting: str) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise UsageError(f"{_name(setting)} must be a whole number, not {value!r}")
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{_name(setting)} must be a whole number, not {value!r}") from None
    if count <= 0:
        raise UsageError(f"{_name(setting)} must be more than 0, not {value!r}")
    return count


def _size(value: Any, setting: str) -> int:
    if isinstance(value, bool):
        raise UsageError(f"{_name(setting)} must be a size like 20M, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return parse_size(value, _name(setting))


def _switch(value: Any, setting: str, source: Path) -> bool:
    if not isinstance(value, bool):
        raise BadInputError(f"config file {source}: {_name(setting)} must be true or false")
    return value


def _directory(configured: Path, given: bool) -> Path:
    """The capture directory, resolved: the default is created (0700), a named one must exist."""
    if not given:
        directory = default_capture_directory()
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise from_os_error(error, f"create the capture directory {directory}") from None
    else:
        directory = configured.expanduser()
    try:
        resolved = directory.resolve(strict=True)
    except FileNotFoundError:
        raise NotFoundError(
            f"the capture directory {directory} does not exist: create it, or name another "
            "with --capture-directory"
        ) from None
    except OSError as error:
        raise from_os_error(error, f"open the capture directory {directory}") from None
    if not resolved.is_dir():
        raise UsageError(f"the capture directory {directory} is not a directory")
    if resolved == Path(resolved.anchor):
        raise UsageError(
            f"the capture directory may not be {resolved}: tools would write anywhere; "
            "give the server a directory of its own with --capture-directory"
        )
    return resolved
