"""analyze_pcap, follow_stream, check_threats, find_credentials and build_bpf.

The analysis tools read a pcap/pcapng file that the capture directory fence
allows (:mod:`tui.mcp.paths`) with the same engine ``livetap analyze`` and
``livetap follow`` use, so their JSON is the CLI's. Whether credentials are
shown unmasked is the server's setting, never the call's: follow_stream masks
in the payload what the credentials report masks (:mod:`tui.mcp.follow_mask`).
"""

from __future__ import annotations

from typing import Any

from engine.analysis import Blocklist, analyze_file, follow_stream
from engine.analysis.follow import ascii_text, hex_lines
from engine.bpf_builder import build_filter
from engine.errors import ResourceError, UsageError
from tui.mcp.bound import bounded
from tui.mcp.config import ServerConfig
from tui.mcp.follow_mask import masked_chunks, stream_secrets
from tui.mcp.paths import CaptureDirectory, text_of

MAX_FILE_BYTES = 2 << 30
"""Larger captures are refused: one call must stay a bounded piece of work."""
DEFAULT_ROWS = 200
MAX_ROWS = 1000
DEFAULT_FOLLOW_BYTES = 64 << 10
MAX_FOLLOW_BYTES = 1 << 20
MAX_BLOCKLISTS = 16


class Analysis:
    """The tools that read capture files, bound to one server's directory and settings."""

    def __init__(self, config: ServerConfig, directory: CaptureDirectory) -> None:
        self.config = config
        self.directory = directory

    def _capture_file(self, name: str) -> str:
        """A capture the fence allows and that is small enough to read in one call."""
        path = self.directory.input(name, "capture")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ResourceError(
                f"{text_of(path)} is {size:,} bytes; this server analyses files of up to "
                f"{MAX_FILE_BYTES:,} bytes (use livetap analyze on the command line)"
            )
        return str(path)

    def _blocklist(self, names: list[str]) -> Blocklist:
        return Blocklist.load(*(self.directory.input(name, "blocklist") for name in names))

    def analyze(self, args: dict[str, Any]) -> dict[str, Any]:
        """The reports of ``livetap analyze --json`` (its ``data``), long lists cut and marked."""
        path = self._capture_file(args["path"])
        names = args.get("reports") or ["all"]
        blocklist = self._blocklist(args["blocklists"]) if args.get("blocklists") else None
        result = analyze_file(
            path,
            names,
            top_n=int(args.get("top_n", 10)),
            blocklist=blocklist,
            show_secrets=self.config.show_secrets,
            deep=bool(args.get("deep", False)),
            decrypt_embedded=self.config.show_secrets,  # TLS a file carries keys for
        )
        return bounded(result.document(), int(args.get("max_rows", DEFAULT_ROWS)))

    def threats(self, args: dict[str, Any]) -> dict[str, Any]:
        """The threats report of a capture against local blocklist files."""
        return self._one_report(args, "threats", self._blocklist(args["blocklists"]))

    def credentials(self, args: dict[str, Any]) -> dict[str, Any]:
        """Cleartext credentials in a capture, masked unless the server shows secrets."""
        return self._one_report(args, "credentials", None)

    def _one_report(
        self, args: dict[str, Any], name: str, blocklist: Blocklist | None
    ) -> dict[str, Any]:
        path = self._capture_file(args["path"])
        result = analyze_file(
            path,
            [name],
            blocklist=blocklist,
            show_secrets=self.config.show_secrets,
            decrypt_embedded=self.config.show_secrets,
        )
        document = result.document()
        data = {
            "file": document["file"],
            "format": document["format"],
            "complete": document["complete"],
            "warnings": document["warnings"],
            name: document["reports"][name],
        }
        return bounded(data, int(args.get("max_rows", DEFAULT_ROWS)))

    def follow(self, args: dict[str, Any]) -> dict[str, Any]:
        """A TCP stream's payload both ways, as ``livetap follow --json``, up to a byte budget."""
        stream, conv = args.get("stream"), args.get("conv")
        if (stream is None) == (conv is None):
            raise UsageError("follow_stream needs exactly one of stream (a number) or conv")
        path = self._capture_file(args["path"])
        fmt = args.get("format", "ascii")
        budget = int(args.get("max_bytes", DEFAULT_FOLLOW_BYTES))
        result = follow_stream(path, stream, conv)
        shown = self.config.show_secrets
        secrets = () if shown else stream_secrets(path, result.stream)
        payloads = masked_chunks(result.chunks, secrets)
        chunks = []
        offsets = [0, 0]
        sent = omitted_bytes = omitted_chunks = 0
        for chunk, payload in zip(result.chunks, payloads, strict=True):
            if sent + len(chunk.data) > budget:
                omitted_bytes += len(chunk.data)
                omitted_chunks += 1
                continue
            sent += len(chunk.data)
            if fmt == "ascii":
                text = ascii_text(payload)
            elif fmt == "hex":
                text = "\n".join(hex_lines(payload, offsets[chunk.node]))
            else:
                text = payload.hex()
            offsets[chunk.node] += len(payload)
            chunks.append({"node": chunk.node, "length": len(chunk.data), "data": text})
        data: dict[str, Any] = {
            "stream": result.stream,
            "filter": result.filter,
            "node0": result.node0,
            "node1": result.node1,
            "packets": result.packets,
            "bytes_from_node0": len(result.bytes_from(0)),
            "bytes_from_node1": len(result.bytes_from(1)),
            "complete": not (result.truncated or result.interrupted),
            "warnings": list(result.warnings),
            "format": fmt,
            "secrets_shown": shown,
            "secrets_masked": len(secrets),
            "chunks": chunks,
        }
        if omitted_chunks:
            data["truncation"] = {
                "truncated": True,
                "omitted": omitted_chunks,
                "omitted_bytes": omitted_bytes,
                "note": f"chunks beyond max_bytes={budget} were left out",
            }
        return data


def build_bpf(args: dict[str, Any]) -> dict[str, Any]:
    """A capture filter from words, compiled by libpcap, with what it means."""
    built = build_filter(args["description"])
    data: dict[str, Any] = {
        "description": built.description,
        "expression": built.expression,
        "compiled": True,
        "explanation": list(built.explanation),
    }
    if args.get("explain"):
        data["program"] = built.program()
    return data
