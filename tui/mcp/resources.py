"""The server's resources: the files this run wrote, the last report of each tool, its config.

``livetap://captures/NAME`` is a file a tool wrote in the capture directory
(pcaps as binary, NDJSON and Lua as text), ``livetap://reports/TOOL`` the last
result of a tool, ``livetap://server/config`` the caps and switches. A file
larger than :data:`MAX_RESOURCE_BYTES` is sent cut, with a JSON marker as a
second content item, never silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.errors import NotFoundError, from_os_error
from tui.mcp.config import ServerConfig
from tui.mcp.state import CONFIG_URI, REPORTS, SessionState

MAX_RESOURCE_BYTES = 8 << 20
MIME_TYPES = {
    "pcap": "application/vnd.tcpdump.pcap",
    "pcapng": "application/x-pcapng",
    "ndjson": "application/x-ndjson",
    "lua": "text/x-lua",
}
TEXT_KINDS = frozenset({"ndjson", "lua"})


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """One entry of the resource list."""

    uri: str
    name: str
    description: str
    mime_type: str
    size: int | None = None


@dataclass(frozen=True, slots=True)
class ResourceContent:
    """One piece of a resource's content: text, or bytes (sent base64-encoded)."""

    uri: str
    mime_type: str
    text: str | None = None
    data: bytes | None = None


def list_resources(state: SessionState, config: ServerConfig) -> list[ResourceInfo]:
    """The config, every file this run wrote, and the last report of each tool."""
    found = [
        ResourceInfo(
            CONFIG_URI,
            "server config",
            "the caps and switches this server was started with",
            "application/json",
        )
    ]
    for item in state.files():
        try:
            size: int | None = item.path.stat().st_size
        except OSError:
            size = None
        found.append(
            ResourceInfo(
                item.uri,
                item.relative,
                f"{item.kind} written by {item.tool} in {config.capture_directory}",
                MIME_TYPES.get(item.kind, "application/octet-stream"),
                size,
            )
        )
    for tool in sorted(state.reports()):
        found.append(
            ResourceInfo(
                REPORTS + tool,
                f"last {tool} report",
                f"the last result of {tool}",
                "application/json",
            )
        )
    return found


def read_resource(uri: str, state: SessionState, config: ServerConfig) -> list[ResourceContent]:
    """A resource's content; NotFoundError for a URI this run does not have."""
    if uri == CONFIG_URI:
        return [_json(uri, config.describe())]
    if uri.startswith(REPORTS):
        reports = state.reports()
        tool = uri[len(REPORTS) :]
        if tool not in reports:
            raise NotFoundError(f"no {tool} report yet: run the tool first")
        return [_json(uri, reports[tool][1])]
    item = state.file(uri)
    if item is None:
        raise NotFoundError(f"{uri} is not a file this server wrote")
    mime = MIME_TYPES.get(item.kind, "application/octet-stream")
    try:
        with item.path.open("rb") as stream:
            data = stream.read(MAX_RESOURCE_BYTES + 1)
            size = item.path.stat().st_size
    except OSError as error:
        raise from_os_error(error, f"read {item.path}") from None
    contents = []
    kept = data[:MAX_RESOURCE_BYTES]
    if item.kind in TEXT_KINDS:
        contents.append(ResourceContent(uri, mime, text=kept.decode("utf-8", "replace")))
    else:
        contents.append(ResourceContent(uri, mime, data=kept))
    if size > len(kept):
        marker = {
            "truncated": True,
            "omitted": size - len(kept),
            "note": f"the file is {size:,} bytes; the first {len(kept):,} were sent "
            "(analyse it with analyze_pcap, or read it on the server)",
        }
        contents.append(_json(uri, marker))
    return contents


def _json(uri: str, data: dict[str, Any]) -> ResourceContent:
    return ResourceContent(
        uri, "application/json", text=json.dumps(data, indent=1, ensure_ascii=False, default=str)
    )
