"""Settings precedence: flags, then environment, then the config file, then defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import (
    DEFAULT_BUFFER,
    DEFAULT_MAX_REQUESTS,
    DEFAULT_SNAPLEN,
    load_settings,
    parse_size,
)
from engine.errors import BadInputError, NotFoundError, UsageError


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_set(tmp_path: Path) -> None:
    settings = load_settings(
        {}, environ={"LIVETAP_CONFIG": ""}, config_path=write_config(tmp_path, "")
    )
    assert (settings.interface, settings.snaplen, settings.buffer_size) == (
        None,
        DEFAULT_SNAPLEN,
        DEFAULT_BUFFER,
    )
    assert settings.ring_size == 100_000
    assert settings.max_requests == DEFAULT_MAX_REQUESTS == 100_000
    assert DEFAULT_SNAPLEN == 65535 and DEFAULT_BUFFER == 8 * 1024 * 1024


def test_the_file_then_environment_then_flags_win(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "defaultInterface: eth9\nsnapLength: 1000\nbufferSize: 4MiB\nmaxCaptureSize: 1G\n"
        f"captureDirectory: {tmp_path}\nringSize: 50\nmaxRequests: 700\n",
    )
    from_file = load_settings({}, environ={}, config_path=path)
    assert (from_file.interface, from_file.snaplen, from_file.buffer_size) == (
        "eth9",
        1000,
        4 << 20,
    )
    assert (from_file.max_capture_size, from_file.capture_directory, from_file.ring_size) == (
        1 << 30,
        tmp_path,
        50,
    )
    assert from_file.config_file == path
    assert from_file.max_requests == 700
    assert load_settings({"max_requests": 9}, environ={}, config_path=path).max_requests == 9
    env = {"CAPTURE_INTERFACE": "lo", "CAPTURE_SNAPLEN": "2000", "CAPTURE_BUFFER": "8M"}
    from_env = load_settings({}, environ=env, config_path=path)
    assert (from_env.interface, from_env.snaplen, from_env.buffer_size) == ("lo", 2000, 8 << 20)
    from_flags = load_settings(
        {"interface": "any", "snaplen": 300, "buffer_size": None}, environ=env, config_path=path
    )
    assert (from_flags.interface, from_flags.snaplen, from_flags.buffer_size) == (
        "any",
        300,
        8 << 20,
    )


def test_the_mcp_section_is_left_to_the_mcp_server(tmp_path: Path) -> None:
    path = write_config(tmp_path, "snapLength: 1200\nmcp:\n  maxDuration: 30\n")
    settings = load_settings({}, environ={}, config_path=path)
    assert settings.snaplen == 1200


def test_livetap_config_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "snapLength: 128\n")
    assert load_settings({}, environ={"LIVETAP_CONFIG": str(path)}).snaplen == 128
    with pytest.raises(NotFoundError, match="does not exist"):
        load_settings({}, environ={"LIVETAP_CONFIG": str(tmp_path / "nope.yaml")})


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("snapLen: 5\n", BadInputError, "unknown key 'snapLen'"),
        ("- a\n- b\n", BadInputError, "must be a mapping"),
        ("snapLength: [\n", BadInputError, "not valid YAML"),
        ("snapLength: lots\n", UsageError, "snap length must be a whole number"),
        ("snapLength: 10\n", UsageError, "between 64 and 262144"),
        ("bufferSize: huge\n", UsageError, "buffer size must be a size"),
        ("bufferSize: 0\n", UsageError, "greater than zero"),
        ("maxRequests: 0\n", UsageError, "max requests must be between 1 and"),
        ("maxRequests: many\n", UsageError, "max requests must be a whole number"),
    ],
)
def test_bad_config_files_name_the_problem(
    tmp_path: Path, text: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        load_settings({}, environ={}, config_path=write_config(tmp_path, text))


def test_sizes() -> None:
    assert parse_size("2M", "x") == parse_size("2MiB", "x") == 2 << 20
    assert parse_size("512k", "x") == 512 << 10
    assert parse_size(4096, "x") == 4096
    assert parse_size("1.5G", "x") == 3 << 29
