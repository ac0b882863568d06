"""The tools' input schemas (JSON Schema 2020-12), the caps filled in from the server's config.

Every schema is a closed object (unknown arguments are refused), every string
and list has a length limit, and every number its bounds.
"""

from __future__ import annotations

from typing import Any

from engine.analysis import REPORTS
from engine.ndjson.writer import MIB
from tui.mcp.analysis import (
    DEFAULT_FOLLOW_BYTES,
    DEFAULT_ROWS,
    MAX_BLOCKLISTS,
    MAX_FOLLOW_BYTES,
    MAX_ROWS,
)
from tui.mcp.browser import DEFAULT_BODY_BYTES, DEFAULT_LAST, MAX_BODY_BYTES, MAX_LAST, MAX_WAIT
from tui.mcp.capture import DEFAULT_DURATION, DEFAULT_LISTED, MAX_INTERFACES, MAX_LISTED
from tui.mcp.config import ServerConfig


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


def _text(description: str, max_length: int = 4096, min_length: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length, "description": description}
    if min_length:
        schema["minLength"] = min_length
    return schema


def _flag(description: str) -> dict[str, Any]:
    return {"type": "boolean", "default": False, "description": description}


def _whole(description: str, low: int, high: int, default: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "integer",
        "minimum": low,
        "maximum": high,
        "description": description,
    }
    if default is not None:
        schema["default"] = default
    return schema


PATH = _text(
    "a pcap or pcapng file: a name relative to the capture directory, or an absolute path "
    "inside it",
    1024,
    1,
)
ROWS = _whole("rows kept per list; longer lists are cut and marked", 1, MAX_ROWS, DEFAULT_ROWS)
BLOCKLISTS = {
    "type": "array",
    "items": _text("a blocklist file in the capture directory", 1024, 1),
    "maxItems": MAX_BLOCKLISTS,
    "description": "URLhaus CSV or one IP/CIDR/domain/URL/hosts line per line",
}

EMPTY = _object({})

BUILD_BPF = _object(
    {
        "description": _text(
            "what to capture, in a few words: 'http to 10.0.0.5', 'dns or ntp', 'tcp syn only'",
            1000,
            1,
        ),
        "explain": _flag("also return the BPF program, as tcpdump -d prints it"),
    },
    ("description",),
)

ANALYZE = _object(
    {
        "path": PATH,
        "reports": {
            "type": "array",
            "items": {"enum": [*REPORTS, "all"]},
            "minItems": 1,
            "maxItems": len(REPORTS) + 1,
            "uniqueItems": True,
            "default": ["all"],
            "description": "which reports (default all)",
        },
        "top_n": _whole("rows in the top-N lists", 1, MAX_ROWS, 10),
        "deep": _flag("also decode with Wireshark's dissectors (tshark): slower"),
        "blocklists": BLOCKLISTS,
        "max_rows": ROWS,
    },
    ("path",),
)

FOLLOW = _object(
    {
        "path": PATH,
        "stream": _whole("the TCP stream's number (tshark's tcp.stream)", 0, 2**31 - 1),
        "conv": _text(
            "or the stream between two endpoints: '10.0.0.5:41000 93.184.216.34:80'", 200
        ),
        "format": {"enum": ["ascii", "hex", "raw"], "default": "ascii"},
        "max_bytes": _whole(
            "payload bytes returned; later chunks are left out and marked",
            1,
            MAX_FOLLOW_BYTES,
            DEFAULT_FOLLOW_BYTES,
        ),
    },
    ("path",),
)

THREATS = _object(
    {"path": PATH, "blocklists": {**BLOCKLISTS, "minItems": 1}, "max_rows": ROWS},
    ("path", "blocklists"),
)

PATH_ONLY = _object({"path": PATH, "max_rows": ROWS}, ("path",))

BROWSER = _object(
    {
        "url": _text("load this http(s) URL first, and wait for its requests", 2048, 1),
        "wait_seconds": {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_WAIT,
            "description": "how long to wait at most for the page's requests to settle "
            "(default 5 with url, else 0)",
        },
        "last": _whole("how many of the newest requests to return", 1, MAX_LAST, DEFAULT_LAST),
        "url_contains": _text("only requests whose URL contains this text", 500),
        "include_bodies": _flag("also the request and response bodies (of the newest 20)"),
        "max_body_bytes": _whole(
            "bytes of each body returned; longer bodies are cut and marked",
            1,
            MAX_BODY_BYTES,
            DEFAULT_BODY_BYTES,
        ),
    }
)

DISSECTOR = _object(
    {
        "spec": {
            "type": ["object", "string"],
            "description": "the protocol spec as a JSON object (format: livetap's "
            "examples/README.md, `livetap dissector schema`), or a .json/.yaml spec file in the "
            "capture directory",
        },
        "protocol_name": _text("use this protocol name instead of the spec's", 64, 1),
        "port": _whole("register on this port instead of the spec's ports", 1, 65535),
        "output": _text("the .lua file name in the capture directory (default NAME.lua)", 255, 1),
        "check_pcap": _text("run the dissector with tshark over this capture file", 1024, 1),
    },
    ("spec",),
)


def capture(config: ServerConfig) -> dict[str, Any]:
    """capture_packets' schema, with the server's caps as maxima."""
    return _object(
        {
            "interface": _text(
                "the interface (list_interfaces; 'any' for all); default: the server's", 64, 1
            ),
            "interfaces": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 64},
                "minItems": 1,
                "maxItems": MAX_INTERFACES,
                "description": "several interfaces read side by side (instead of interface); "
                "the pcap is then pcapng and each summary names its interface",
            },
            "bpf": _text("a BPF capture filter in tcpdump syntax (build_bpf makes one)"),
            "duration_seconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": config.max_duration,
                "description": "stop after this long (default "
                f"{min(DEFAULT_DURATION, config.max_duration):g} s; the server's cap is the "
                "maximum)",
            },
            "count": _whole(
                "stop after this many packets (default and maximum: the server's cap)",
                1,
                config.max_count,
            ),
            "save_pcap": _flag("keep the pcap in the capture directory and return its path"),
            "file_name": _text(
                "the pcap's name in the capture directory (.pcap or .pcapng); implies save_pcap",
                255,
                1,
            ),
            "max_packets": _whole(
                "packet summaries returned (the first ones); the rest are counted",
                0,
                MAX_LISTED,
                DEFAULT_LISTED,
            ),
        }
    )


def ndjson_start(config: ServerConfig) -> dict[str, Any]:
    """start_ndjson_capture's schema; the rotation size is at most the server's byte cap."""
    return _object(
        {
            "file": _text("the .ndjson file in the capture directory", 255, 1),
            "max_size_mb": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": round(config.max_bytes / MIB, 3),
                "description": "rotate at this size in MB (MiB)",
            },
            "filters": {
                "type": "array",
                "items": _text("a URL pattern with * wildcards; !PATTERN excludes", 1000, 1),
                "maxItems": 32,
            },
            "include_bodies": _flag("write request and response bodies"),
            "packets": _flag("also write packet summaries (needs root)"),
            "interface": _text("with packets: the interface", 64, 1),
            "bpf": _text("with packets: a BPF capture filter"),
            "no_browser": _flag("packets only, no browser"),
            "url": _text("load this http(s) URL in the capture's browser", 2048, 1),
        },
        ("file",),
    )
