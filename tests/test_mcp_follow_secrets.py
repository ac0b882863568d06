"""MCP ``follow_stream`` masks what the credentials report masks, unless ``--show-secrets``.

A real ``livetap mcp`` on stdio follows each login stream of a capture holding
every kind of cleartext login livetap finds (HTTP Basic and form, FTP, POP3,
IMAP, Telnet typed one key per packet, SMTP AUTH PLAIN), in each format.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.analysis_data import credentials_frames, write_frames
from tests.test_mcp import _ok, mcp_server

SECRETS = {
    0: [b"hunter2", base64.b64encode(b"alice:wonderland")],  # as they travel
    1: [b"s3cret"],
    2: [b"wrongpass"],
    3: [b"pass word"],
    4: [b"letmein"],
    5: [base64.b64encode(b"\x00grace\x00mailpass")],
}
MASKED = {0: [b"Basic Y***", b"password=h***&"], 1: [b"PASS s***"], 3: [b'"p***"'], 4: [b"l***"]}


@pytest.fixture
def capture_dir(tmp_dir: Path) -> Path:
    directory = tmp_dir / "captures"
    directory.mkdir(mode=0o755)
    write_frames(directory / "logins.pcap", credentials_frames())
    return directory


def _payload(followed: dict[str, object]) -> dict[int, bytes]:
    """Each side's bytes, from the raw (hex) format."""
    sides = {0: b"", 1: b""}
    chunks = followed["chunks"]
    assert isinstance(chunks, list)
    for chunk in chunks:
        sides[chunk["node"]] += bytes.fromhex(chunk["data"])
    return sides


async def test_follow_stream_masks_credentials(capture_dir: Path) -> None:
    async with mcp_server(capture_dir) as client:
        for stream, secrets in SECRETS.items():
            arguments = {"path": "logins.pcap", "stream": stream, "format": "raw"}
            followed = _ok(await client.call_tool("follow_stream", arguments))
            assert followed["secrets_shown"] is False and followed["secrets_masked"] >= 1
            both = b"".join(_payload(followed).values())
            assert [s for s in secrets if s in both] == [], stream
            assert all(masked in both for masked in MASKED.get(stream, [])), (stream, both)
        text = _ok(
            await client.call_tool(
                "follow_stream", {"path": "logins.pcap", "stream": 1, "format": "ascii"}
            )
        )
        assert "s3cret" not in str(text["chunks"]) and "PASS s***" in str(text["chunks"])
        hexed = _ok(
            await client.call_tool(
                "follow_stream", {"path": "logins.pcap", "stream": 1, "format": "hex"}
            )
        )
        assert b"s3cret".hex() not in str(hexed["chunks"]).replace(" ", "")
        assert "USER carol" in str(text["chunks"]), "the rest of the stream is as captured"


async def test_show_secrets_shows_the_stream_as_captured(capture_dir: Path) -> None:
    async with mcp_server(capture_dir, "--show-secrets") as client:
        for stream, secrets in SECRETS.items():
            arguments = {"path": "logins.pcap", "stream": stream, "format": "raw"}
            followed = _ok(await client.call_tool("follow_stream", arguments))
            assert followed["secrets_shown"] is True and followed["secrets_masked"] == 0
            both = b"".join(_payload(followed).values())
            assert [s for s in secrets if s not in both] == [], stream
