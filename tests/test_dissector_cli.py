"""``livetap dissector`` as a user runs it: files written, exit codes, JSON documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.dissector import load_spec
from engine.errors import ExitCode
from tests.dissector_support import (
    EVENT,
    READINGS,
    script_for,
    sensor_message,
    spec_file,
    udp_frame,
    write_frames,
)

LIVETAP = str(Path(sys.executable).parent / "livetap")
SENSOR = str(spec_file("sensor"))


def livetap(
    *args: str, cwd: Path | None = None, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script (optionally with another PATH), without a terminal."""
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [LIVETAP, "dissector", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=env,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture
def capture(tmp_dir: Path) -> Path:
    frames = [
        udp_frame(sensor_message(1, READINGS), 47000),
        udp_frame(sensor_message(3, EVENT), 47000),
        udp_frame(sensor_message(1, READINGS)[:20], 47000),
    ]
    return write_frames(tmp_dir / "sensor.pcap", frames)


def test_generate_writes_name_lua_in_the_current_directory(tmp_dir: Path) -> None:
    result = livetap("generate", "--spec", SENSOR, cwd=tmp_dir)
    assert result.returncode == 0, result.stderr
    script = tmp_dir / "sensor.lua"
    assert script.read_text().startswith("-- sensor.lua: a Wireshark dissector")
    assert script.stat().st_mode & 0o777 == 0o600
    assert "wrote sensor.lua: sensor over UDP (47000, 47100-47109), 27 fields" in result.stdout


def test_generate_with_overrides_and_json(tmp_dir: Path) -> None:
    out = tmp_dir / "custom.lua"
    result = livetap(
        "generate", "--spec", SENSOR, "--protocol-name", "mysensor", "--port", "5555",
        "--output", str(out), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["success"] is True
    data = document["data"]
    assert data["lua"] == str(out) and data["protocol"] == "mysensor"
    assert data["ports"] == ["5555"] and data["fields"] == 27 and "check" not in data
    text = out.read_text()
    assert 'Proto("mysensor"' in text and "ports:add(5555, proto)" in text
    assert "47000" not in text.split("-- Registration by port.")[1]


def test_generate_and_check_reports_per_field_counts(tmp_dir: Path, capture: Path) -> None:
    result = livetap("generate", "--spec", SENSOR, "--check", str(capture), cwd=tmp_dir)
    assert result.returncode == 0, result.stderr
    assert "3 packets, 3 decoded as sensor" in result.stdout
    assert "      3  sensor.magic" in result.stdout
    assert "      1  sensor.readings.reading" in result.stdout
    assert "(never decoded)" in result.stdout
    assert "frame 3  Error/Malformed  Sensor name: needs 7 bytes, 4 left" in result.stdout
    assert "ok: the dissector loaded" in result.stdout
    as_json = livetap("generate", "--spec", SENSOR, "--check", str(capture), "--json", cwd=tmp_dir)
    check = json.loads(as_json.stdout)["data"]["check"]
    assert check["ok"] is True and check["decoded"] == 3 and check["expert_total"] == 2


def test_a_broken_dissector_exits_with_bad_input(tmp_dir: Path, capture: Path) -> None:
    result = livetap(
        "generate", "--spec", SENSOR, "--protocol-name", "dns", "--check", str(capture),
        cwd=tmp_dir,
    )  # fmt: skip
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "livetap: the dissector is broken:" in result.stderr
    assert "--protocol-name" in result.stdout
    no_traceback(result)
    as_json = livetap(
        "generate", "--spec", SENSOR, "--protocol-name", "dns", "--check", str(capture),
        "--json", cwd=tmp_dir,
    )  # fmt: skip
    assert as_json.returncode == ExitCode.BAD_INPUT
    document = json.loads(as_json.stdout)
    assert document["success"] is False and document["error"]["code"] == "BAD_INPUT"
    assert document["data"]["check"]["ok"] is False


def test_check_finds_runtime_errors_in_a_script(tmp_dir: Path, capture: Path) -> None:
    _, script = script_for("sensor", tmp_dir)
    good = livetap("check", "--lua", str(script), "--spec", SENSOR, str(capture), "--json")
    assert good.returncode == 0 and json.loads(good.stdout)["data"]["decoded"] == 3
    script.write_text(script.read_text().replace("range:ether()", "range:broken()"))
    result = livetap("check", "--lua", str(script), "--spec", SENSOR, str(capture))
    assert result.returncode == ExitCode.BAD_INPUT
    assert "Lua errors: 3" in result.stdout and "(frame 1); 2 more" in result.stderr
    no_traceback(result)


def test_without_tshark_generation_works_and_the_check_is_skipped(
    tmp_dir: Path, capture: Path
) -> None:
    empty = tmp_dir / "bin"
    empty.mkdir()
    result = livetap(
        "generate", "--spec", SENSOR, "--check", str(capture), cwd=tmp_dir, path=str(empty)
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_dir / "sensor.lua").exists()
    assert "note: check skipped: tshark is not installed" in result.stdout
    checked = livetap(
        "check", "--lua", str(tmp_dir / "sensor.lua"), "--spec", SENSOR, str(capture),
        path=str(empty),
    )  # fmt: skip
    assert checked.returncode == ExitCode.NOT_FOUND
    assert "tshark is not installed" in checked.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("generate", "--spec", "/nonexistent/spec.json"), ExitCode.NOT_FOUND, "does not exist"),
        (("generate", "--spec", SENSOR, "--port", "70000"), ExitCode.USAGE_ERROR, "--port 70000"),
        (("generate", "--spec", SENSOR, "--protocol-name", "Bad"), ExitCode.USAGE_ERROR, "Bad"),
        (("generate",), ExitCode.USAGE_ERROR, "--spec"),
        ((), ExitCode.USAGE_ERROR, "ACTION"),
        (("draft", "--pcap", "x.pcap", "--frame", "0"), ExitCode.USAGE_ERROR, "from 1"),
        (
            ("generate", "--spec", SENSOR, "--check", "/nonexistent.pcap"),
            ExitCode.NOT_FOUND,
            "nonexistent.pcap",
        ),
        (
            ("generate", "--spec", SENSOR, "--output", "/nonexistent/dir/x.lua"),
            ExitCode.NOT_FOUND,
            "could not write /nonexistent/dir/x.lua",
        ),
    ],
)
def test_bad_command_lines_get_one_line_and_their_code(
    args: tuple[str, ...], code: ExitCode, message: str, tmp_dir: Path
) -> None:
    result = livetap(*args, cwd=tmp_dir)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    no_traceback(result)


def test_an_invalid_spec_names_the_field_path(tmp_dir: Path) -> None:
    data = json.loads(Path(SENSOR).read_text())
    data["fields"][8]["length"] = "body_length - 2"
    spec = tmp_dir / "bad.json"
    spec.write_text(json.dumps(data))
    result = livetap("generate", "--spec", str(spec), cwd=tmp_dir)
    assert result.returncode == ExitCode.BAD_INPUT
    assert result.stderr.strip() == (
        f'livetap: {spec}: fields[8].length: refers to unknown field "body_length"'
    )
    as_json = livetap("generate", "--spec", str(spec), "--json", cwd=tmp_dir)
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "BAD_INPUT" and "fields[8].length" in error["message"]
    assert not (tmp_dir / "sensor.lua").exists()


def test_schema_is_json_schema(tmp_dir: Path) -> None:
    result = livetap("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) == {"protocol", "transport", "fields"}
    spec_keys = set(json.loads(Path(SENSOR).read_text()))
    assert spec_keys <= set(schema["properties"])
    assert "uint24" in schema["$defs"]["field"]["properties"]["type"]["enum"]
    wrapped = json.loads(livetap("schema", "--json").stdout)
    assert wrapped["success"] is True and wrapped["data"] == schema


def test_draft_from_a_frame_then_generate_from_the_draft(tmp_dir: Path, capture: Path) -> None:
    draft = tmp_dir / "draft.json"
    result = livetap("draft", "--pcap", str(capture), "--frame", "2", "--output", str(draft))
    assert result.returncode == 0, result.stderr
    assert f"wrote {draft}:" in result.stdout and "UDP port 47000" in result.stdout
    spec = load_spec(draft)
    assert spec.transport == "udp" and spec.ports == ((47000, 47000),)
    assert spec.fields[0].name == "magic" and spec.fields[0].magic == b"SN"
    generated = livetap("generate", "--spec", str(draft), "--check", str(capture), cwd=tmp_dir)
    assert generated.returncode == 0, generated.stderr
    assert "3 packets, 3 decoded as draft" in generated.stdout
    printed = livetap("draft", "--pcap", str(capture), "--frame", "1", "--name", "mine")
    assert json.loads(printed.stdout)["protocol"] == "mine"
    as_json = json.loads(livetap("draft", "--pcap", str(capture), "--frame", "1", "--json").stdout)
    assert as_json["data"]["port"] == 47000 and as_json["data"]["spec"]["transport"] == "udp"


def test_draft_refuses_missing_frames_and_non_udp_packets(tmp_dir: Path, capture: Path) -> None:
    missing = livetap("draft", "--pcap", str(capture), "--frame", "9")
    assert missing.returncode == ExitCode.NOT_FOUND
    assert "has 3 packets: there is no frame 9" in missing.stderr
    arp = write_frames(tmp_dir / "arp.pcap", [udp_frame(b"x", 1)[:14] + bytes(28)])
    result = livetap("draft", "--pcap", str(arp), "--frame", "1")
    assert result.returncode == ExitCode.BAD_INPUT
    assert "neither UDP nor TCP" in result.stderr
    no_traceback(result)
