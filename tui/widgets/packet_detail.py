"""The detail pane: the selected packet's layer tree (scapy) beside its hex dump.

Labels come from packet bytes, so they are plain Text, never parsed as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Log, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode

from engine.dissect import FieldNode, PacketDetail

HEX_START = 6
"""Where a hex dump line's first byte is written (after the offset and two spaces)."""
TEXT_START = 56
"""Where its printable characters start (engine.dissect.hexdump_lines' layout)."""


def hex_column(byte: int) -> int:
    """The column of byte ``byte`` (0–15) of a line in the hex part (a gap after the 8th)."""
    return HEX_START + 3 * byte + (1 if byte >= 8 else 0)


class LayerTree(Tree[FieldNode | None]):
    """Expandable layers and fields of one packet; each node keeps its :class:`FieldNode`
    (the display-filter field, its value and its bytes)."""

    DEFAULT_CSS = """
    LayerTree {
        width: 3fr;
        background: $surface;
        border-right: vkey $panel;
    }
    """


class DeepTree(Tree[FieldNode | None]):
    """The same packet as Wireshark's dissectors decode it (tshark), on demand."""

    DEFAULT_CSS = """
    DeepTree {
        background: $surface;
    }
    """


class HexView(Log):
    """The selected packet's bytes: offset, hex and printable characters; the selected
    field's bytes highlighted in both (as Wireshark's bytes pane)."""

    COMPONENT_CLASSES = {"hex-view--field"}
    DEFAULT_CSS = """
    HexView {
        width: 76;
        overflow-x: hidden;
        background: $surface;
    }
    HexView > .hex-view--field {
        background: $accent;
        color: $text;
        text-style: bold;
    }
    """

    def __init__(self, *, id: str | None = None, auto_scroll: bool = False) -> None:
        super().__init__(id=id, auto_scroll=auto_scroll)
        self.field_span: tuple[int, int] | None = None
        """The highlighted bytes (start, length), or None."""

    def show_field(self, span: tuple[int, int] | None) -> None:
        """Highlight these bytes (None: none) and scroll them into view."""
        if span is not None and span[1] <= 0:
            span = None
        if span == self.field_span:
            return
        self.field_span = span
        self.refresh()
        if span is None:
            return
        first, last = span[0] // 16, (span[0] + span[1] - 1) // 16
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if height and (first < top or last >= top + height):
            self.scroll_to(y=max(0, first - 1), animate=False)

    def _render_line(self, y: int, scroll_x: int, width: int) -> Strip:
        """A line of the dump, with the highlighted bytes' hex and characters styled."""
        span = self.field_span
        if span is None or y >= len(self.lines):
            return super()._render_line(y, scroll_x, width)
        start, end = span[0] - 16 * y, span[0] + span[1] - 16 * y
        if end <= 0 or start >= 16:
            return super()._render_line(y, scroll_x, width)
        start, end = max(start, 0), min(end, 16)
        style = self.rich_style
        line = Text(self.lines[y], no_wrap=True, style=style)
        field = self.get_component_rich_style("hex-view--field")
        line.stylize(field, hex_column(start), hex_column(end - 1) + 2)
        line.stylize(field, TEXT_START + start, TEXT_START + end)
        strip = Strip(line.render(self.app.console), line.cell_len)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, y)


class PacketDetailPane(Horizontal):
    """Shows one :class:`PacketDetail`; empty until a packet is selected."""

    class FieldChosen(Message):
        """Enter on a field that has a display filter: offer Apply / Prepare as Filter."""

        def __init__(self, node: FieldNode) -> None:
            super().__init__()
            self.node = node

    DEFAULT_CSS = """
    PacketDetailPane {
        height: 2fr;
        border-top: solid $panel;
    }
    PacketDetailPane.-stacked {
        layout: vertical;
    }
    PacketDetailPane TabbedContent {
        width: 3fr;
        border-right: vkey $panel;
    }
    PacketDetailPane TabPane { padding: 0; }
    PacketDetailPane LayerTree { width: 1fr; border-right: none; }
    PacketDetailPane.-stacked TabbedContent {
        width: 1fr;
        height: 3fr;
        border-right: none;
    }
    PacketDetailPane.-stacked HexView {
        width: 1fr;
        height: 2fr;
    }
    PacketDetailPane.-stacked.-low HexView { display: none; }
    """

    STACK_BELOW = 120
    """Narrower than this, the hex dump goes under the tree instead of beside it."""
    HEX_BELOW_FROM = 14
    """Stacked and lower than this, the tree keeps the rows and the hex dump waits for room
    (Enter or z gives the detail more)."""

    def on_resize(self, event: events.Resize) -> None:
        """Stack tree and hex dump when the pane is narrow (e.g. beside the browser)."""
        self.set_class(event.size.width < self.STACK_BELOW, "-stacked")
        self.set_class(event.size.height < self.HEX_BELOW_FROM, "-low")

    def compose(self) -> ComposeResult:
        with TabbedContent(id="detail-tabs"):
            with TabPane("Layers (scapy)", id="tab-scapy"):
                tree = LayerTree("Select a packet (↑ ↓) to see its layers", id="layer-tree")
                tree.show_root = True
                yield tree
            with TabPane("Wireshark (tshark, d)", id="tab-tshark"):
                deep = DeepTree("d decodes the selected packet with tshark", id="deep-tree")
                deep.show_root = True
                yield deep
        yield HexView(id="hex-view", auto_scroll=False)

    @property
    def deep_tree(self) -> DeepTree:
        """tshark's tree of the selected packet."""
        return self.query_one(DeepTree)

    @property
    def showing_deep(self) -> bool:
        """True while the tshark tab is the one shown."""
        return self.query_one(TabbedContent).active == "tab-tshark"

    def show_deep(self, index: int, nodes: tuple[FieldNode, ...] | None, note: str = "") -> None:
        """Show tshark's layers for a packet (or a note: decoding, tshark missing ...)."""
        tree = self.deep_tree
        tree.clear()
        if nodes is None:
            tree.show_root = True
            tree.root.set_label(Text(note))
            return
        tree.root.set_label(f"Packet {index} (tshark)")
        tree.show_root = False
        for layer in nodes:
            self._add(tree.root, layer, expand=False)

    @property
    def layer_tree(self) -> LayerTree:
        """The layer tree widget."""
        return self.query_one(LayerTree)

    def show(self, detail: PacketDetail) -> None:
        """Replace the tree and the hex dump with another packet's."""
        tree = self.layer_tree
        tree.clear()
        tree.root.set_label(f"Packet {detail.index}")
        tree.show_root = False
        for layer in detail.layers:
            self._add(tree.root, layer, expand=True)
        if detail.error:
            tree.root.add_leaf(Text(detail.error))
        hex_view = self.query_one(HexView)
        hex_view.clear()
        hex_view.show_field(None)
        hex_view.write_lines(detail.hexdump)
        hex_view.scroll_home(animate=False)

    @property
    def field(self) -> FieldNode | None:
        """The layer-tree node under the cursor (its field, value and bytes), if any."""
        node = self.layer_tree.cursor_node
        return node.data if node is not None else None

    def on_tree_node_highlighted(self, message: Tree.NodeHighlighted[FieldNode | None]) -> None:
        """The field under the layer tree's cursor: its bytes highlighted in the dump."""
        if message.control is self.layer_tree:
            data = message.node.data
            self.query_one(HexView).show_field(data.span if data is not None else None)

    def on_tree_node_selected(self, message: Tree.NodeSelected[FieldNode | None]) -> None:
        """Enter on a field (a leaf) that has a filter: Apply / Prepare as Filter."""
        data = message.node.data
        leaf = not message.node.allow_expand
        if message.control is self.layer_tree and data is not None and data.filter and leaf:
            self.post_message(self.FieldChosen(data))

    def _add(self, parent: TreeNode[FieldNode | None], node: FieldNode, expand: bool) -> None:
        """Add a field (and its children) under ``parent``."""
        if not node.children:
            parent.add_leaf(Text(node.label), data=node)
            return
        branch = parent.add(Text(node.label), data=node, expand=expand)
        for child in node.children:
            self._add(branch, child, expand=False)

    def show_decoded(self, title: str, nodes: tuple[FieldNode, ...]) -> None:
        """Put a dissector's decode of the shown packet at the top of the tree, and show it.

        The decode lands in the Layers tab: when the Wireshark tab is the visible one,
        the user would not see what the export produced, so the Layers tab is brought up.
        """
        self.query_one(TabbedContent).active = "tab-scapy"
        tree = self.layer_tree
        branch = tree.root.add(Text(title), before=0, expand=True)
        for node in nodes:
            self._add(branch, node, expand=True)
        tree.move_cursor(branch)

    def show_message(self, text: str) -> None:
        """Show a line of text instead of a packet (e.g. evicted)."""
        tree = self.layer_tree
        tree.clear()
        tree.show_root = True
        tree.root.set_label(Text(text))
        hex_view = self.query_one(HexView)
        hex_view.show_field(None)
        hex_view.clear()
