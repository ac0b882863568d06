"""NDJSON capture: events streamed to a file one JSON object per line, with rotation.

The line format and the start/stop reports are a fixed contract (see the README):
request, response, finished and failed lines for browser requests, ws.frame and
sse.message lines for WebSocket frames and server-sent events, packet lines for
packet summaries. Each line is written and flushed as its event arrives.
"""
