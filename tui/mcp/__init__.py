"""livetap's tools for AI agents, as plain functions over the engine (no MCP types here).

``livetap mcp`` (:mod:`tui.commands.mcp`) serves them over the Model Context
Protocol with the official SDK; everything below is testable without it. The
server is an agent-driven process that usually runs as root, so the rules are
strict: every capture is bounded in time, packets and bytes by the server's own
caps (:mod:`tui.mcp.config`); every file a tool writes, and every file it
reads unless the server was started with ``--read-anywhere``, is inside the
capture directory (:mod:`tui.mcp.paths`); the switches that widen access
(remote browsers, secrets) come only from the server's configuration, never
from a tool call; and long results are cut with an explicit marker
(:mod:`tui.mcp.bound`), never silently.
"""

from __future__ import annotations

from tui.mcp.config import ServerConfig, load_server_config
from tui.mcp.ndjson import NdjsonBackend
from tui.mcp.registry import Outcome, Tool
from tui.mcp.resources import ResourceContent, ResourceInfo
from tui.mcp.toolbox import Toolbox

__all__ = [
    "NdjsonBackend",
    "Outcome",
    "ResourceContent",
    "ResourceInfo",
    "ServerConfig",
    "Tool",
    "Toolbox",
    "load_server_config",
]
