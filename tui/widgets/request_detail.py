"""The selected request in full, in tabs as DevTools has them: Headers, Payload, Preview,
Response, Messages (a WebSocket's frames, an EventSource's events), Timing, On the wire,
and Initiator when the browser said what started it.

Each tab scrolls on its own, so a long header list does not push the timing out of
reach; the Preview folds a JSON body (a tree) once b has fetched it.
"""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from engine.browser.records import RequestRecord, ResponseBody
from engine.browser.streams import StreamMessage, StreamSummary
from engine.correlate import ConnectionFigures
from tui.widgets.json_tree import JsonTree, parse_json
from tui.widgets.message_sections import messages_tab
from tui.widgets.request_sections import (
    body_text,
    headers_tab,
    initiator_tab,
    payload_tab,
    response_tab,
    timing_tab,
    wire_tab,
)

TABS = (
    ("Headers", "headers"),
    ("Payload", "payload"),
    ("Preview", "preview"),
    ("Response", "response"),
    ("Messages", "messages"),
    ("Timing", "timing"),
    ("On the wire", "wire"),
    ("Initiator", "initiator"),
)
"""Tab titles and the ids their panes go by (``tab-<id>``)."""
STREAM_TYPES = frozenset({"WebSocket", "EventSource"})
"""Resource types whose detail has a Messages tab (so do requests that had messages)."""
HINT = "Select a request (↑ ↓); b shows its body, g its packets."


class RequestDetail(Vertical):
    """Everything about the selected request, one tab at a time."""

    DEFAULT_CSS = """
    RequestDetail {
        height: 2fr;
        border-top: solid $panel;
        background: $surface;
    }
    RequestDetail TabPane { padding: 0; }
    RequestDetail VerticalScroll { padding: 0 1; background: $surface; }
    RequestDetail #preview-tree { display: none; }
    RequestDetail.-json #preview-tree { display: block; }
    RequestDetail.-json #text-preview { display: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._texts: dict[str, RenderableType] = {}
        """Each tab's text as last shown (Preview: its text form), for plain_text."""
        self._messages_shown: tuple[str, int] | None = None
        """The request and message count the Messages tab shows (redrawn when it changes)."""

    def compose(self) -> ComposeResult:
        with TabbedContent(id="request-tabs"):
            for title, name in TABS:
                with TabPane(title, id=f"tab-{name}"), VerticalScroll(id=f"scroll-{name}"):
                    yield Static(HINT if name == "headers" else "", id=f"text-{name}")
                    if name == "preview":
                        yield JsonTree(id="preview-tree")

    def on_mount(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.hide_tab("tab-initiator")
        tabs.hide_tab("tab-messages")

    def focus(self, scroll_visible: bool = True) -> RequestDetail:
        """Focus the open tab's content (the container itself takes no keys)."""
        active = self.query_one(TabbedContent).active or "tab-headers"
        name = active.removeprefix("tab-")
        target = (
            self.query_one(JsonTree)
            if name == "preview" and self.has_class("-json")
            else self.query_one(f"#scroll-{name}", VerticalScroll)
        )
        target.focus(scroll_visible)
        return self

    @property
    def active_tab(self) -> str:
        """The open tab's name (headers, payload, preview, …)."""
        return (self.query_one(TabbedContent).active or "tab-headers").removeprefix("tab-")

    def open_tab(self, name: str) -> None:
        """Open a tab by name (b opens the Response)."""
        self.query_one(TabbedContent).active = f"tab-{name}"

    def scroll_to_body(self) -> None:
        """b fetched the body: open the Preview when it folds (JSON), else the Response."""
        self.open_tab("preview" if self.has_class("-json") else "response")

    def _set(self, name: str, renderable: RenderableType) -> None:
        self._texts[name] = renderable
        self.query_one(f"#text-{name}", Static).update(renderable)

    def show(
        self,
        record: RequestRecord,
        figures: ConnectionFigures | None = None,
        body: ResponseBody | None = None,
        post_data: str | None = None,
        *,
        note: str = "",
        messages: tuple[StreamMessage, ...] = (),
        summary: StreamSummary | None = None,
    ) -> None:
        """Render one request, with what was fetched for it so far (and its messages)."""
        self._set("headers", headers_tab(record, note))
        self._set("payload", payload_tab(record, post_data))
        self._set("response", response_tab(body, note))
        self._set("timing", timing_tab(record))
        self._set("wire", wire_tab(record, figures))
        tabs = self.query_one(TabbedContent)
        if record.initiator:
            self._set("initiator", initiator_tab(record))
            tabs.show_tab("tab-initiator")
        else:
            self._hide("initiator")
        if record.resource_type in STREAM_TYPES or record.messages:
            key = (record.id, summary.total if summary else 0)
            if key != self._messages_shown:  # drawn again only when a message came
                self._messages_shown = key
                self._set("messages", messages_tab(record, messages, summary))
            tabs.show_tab("tab-messages")
        else:
            self._messages_shown = None
            self._hide("messages")
        self._show_preview(record, body, note)

    def _hide(self, name: str) -> None:
        """Hide a tab this request has nothing for (back to Headers if it was open)."""
        tabs = self.query_one(TabbedContent)
        self._texts.pop(name, None)
        if tabs.active == f"tab-{name}":
            tabs.active = "tab-headers"
        tabs.hide_tab(f"tab-{name}")

    def _show_preview(self, record: RequestRecord, body: ResponseBody | None, note: str) -> None:
        """The body folded (JSON) or as text; how to get it when there is none yet."""
        text = body_text(body) if body is not None else None
        document = parse_json(text) if text is not None else None
        tree = self.query_one(JsonTree)
        key = (record.id, id(body))
        if document is not None:
            if tree.shown_for != key:  # the detail is redrawn on every update of the record
                tree.show_document(document, label=body.mime_type if body else "JSON")
                tree.shown_for = key
            self._texts["preview"] = Text("\n".join(tree.plain_lines()))
            self.add_class("-json")
            return
        self.remove_class("-json")
        if body is None:
            shown: RenderableType = response_tab(None, note)
        elif text is None:
            shown = Text("\nNot text: the Response tab has its bytes.", style="italic")
        else:
            shown = Text(text)
        self._set("preview", shown)

    def show_message(self, text: str) -> None:
        """A line of text instead of a request."""
        self._texts = {"headers": Text(text)}
        self._messages_shown = None
        self.remove_class("-json")
        for _title, name in TABS:
            self.query_one(f"#text-{name}", Static).update(text if name == "headers" else "")
        self.open_tab("headers")

    def plain_text(self, width: int = 120) -> str:
        """Every tab's text, in tab order (for tests, copying and tools)."""
        console = Console(width=width, record=True, file=io.StringIO())
        console.print(Group(*(self._texts[name] for _t, name in TABS if name in self._texts)))
        return console.export_text()
