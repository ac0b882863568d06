"""The detail pane: the selected packet's layer tree (scapy) beside its hex dump.

Labels come from packet bytes, so they are plain Text, never parsed as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Log, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode

from engine.dissect import FieldNode, PacketDetail


class LayerTree(Tree[None]):
    """Expandable layers and fields of one packet."""

    DEFAULT_CSS = """
    LayerTree {
        width: 3fr;
        background: $surface;
        border-right: vkey $panel;
    }
    """


class DeepTree(Tree[None]):
    """The same packet as Wireshark's dissectors decode it (tshark), on demand."""

    DEFAULT_CSS = """
    DeepTree {
        background: $surface;
    }
    """


class HexView(Log):
    """The selected packet's bytes: offset, hex and printable characters."""

    DEFAULT_CSS = """
    HexView {
        width: 76;
        overflow-x: hidden;
        background: $surface;
    }
    """


class PacketDetailPane(Horizontal):
    """Shows one :class:`PacketDetail`; empty until a packet is selected."""

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
        hex_view.write_lines(detail.hexdump)
        hex_view.scroll_home(animate=False)

    def _add(self, parent: TreeNode[None], node: FieldNode, expand: bool) -> None:
        """Add a field (and its children) under ``parent``."""
        if not node.children:
            parent.add_leaf(Text(node.label))
            return
        branch = parent.add(Text(node.label), expand=expand)
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
        self.query_one(HexView).clear()
