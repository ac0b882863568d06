"""Expert info (``e``): the packets with warnings and errors, as Wireshark's dialog groups them.

Severity (errors first), then each summary with how many packets have it, then those
packets. The items are gathered in a worker thread over the buffered packets
(:func:`engine.expert.expert_info`); Enter on a summary or a packet closes the screen
with that packet's number (a summary: its first packet), which the packet list selects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Tree

from engine.expert import ERROR, WARNING, ExpertInfo

MAX_FRAMES_LISTED = 500
"""Packets listed under one summary at most (the count says how many there are)."""
_STYLES = {ERROR: "bold red", WARNING: "yellow"}


class ExpertScreen(ModalScreen[int | None]):
    """The expert items of the buffered packets; answers the packet chosen (or None)."""

    DEFAULT_CSS = """
    ExpertScreen { align: center middle; }
    ExpertScreen > Vertical {
        width: 95%; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ExpertScreen #expert-title { text-style: bold; color: $accent; }
    ExpertScreen Tree { height: 1fr; background: $surface; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("e", "close", "Close", show=False),
    ]

    class Loaded(Message):
        """The items were gathered (posted from the worker thread)."""

        def __init__(self, info: ExpertInfo) -> None:
            super().__init__()
            self.info = info

    def __init__(self, load: Callable[[], ExpertInfo], describe: Callable[[int], str]) -> None:
        """``load`` gathers the items (in a worker thread); ``describe`` writes a packet's
        one-line summary (source, destination, Info) for its row."""
        super().__init__()
        self._load = load
        self._describe = describe
        self.info: ExpertInfo | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Expert info: looking through the buffered packets…", id="expert-title")
            tree: Tree[int | None] = Tree("Expert info", id="expert-tree")
            tree.show_root = False
            yield tree
            yield Footer()

    @property
    def expert_tree(self) -> Tree[int | None]:
        """Severities, summaries, packets."""
        tree: Tree[int | None] = self.query_one("#expert-tree", Tree)
        return tree

    def on_mount(self) -> None:
        """Gather the items off the UI thread."""
        self.expert_tree.focus()
        self._gather()

    @work(thread=True, exclusive=True, group="expert")
    def _gather(self) -> None:
        self.post_message(self.Loaded(self._load()))

    def on_expert_screen_loaded(self, message: Loaded) -> None:
        """Fill the tree: each severity open, its summaries closed."""
        info = self.info = message.info
        grouped = info.by_severity()
        items = sum(len(g.frames) for _s, groups in grouped for g in groups)
        self.query_one("#expert-title", Label).update(
            f"Expert info: {items:,} items in {info.packets:,} packets · Enter selects a "
            "packet (on a summary: its first) · Esc closes"
        )
        tree = self.expert_tree
        tree.clear()
        if not grouped:
            tree.root.add_leaf("No warnings, errors, notes or chats in the buffered packets")
        for severity, groups in grouped:
            total = sum(len(group.frames) for group in groups)
            label = Text.assemble((f"{severity}s", _STYLES.get(severity, "bold")), f" ({total:,})")
            branch = tree.root.add(label, expand=True)
            for group in groups:
                item = group.item
                line = Text.assemble(
                    (f"{len(group.frames):>7,}  ", "bold"),
                    (f"{item.group:<10} {item.protocol:<6} ", "dim"),
                    item.summary,
                )
                node = branch.add(line, data=group.frames[0])
                for number in group.frames[:MAX_FRAMES_LISTED]:
                    node.add_leaf(Text(self._describe(number)), data=number)
                if len(group.frames) > MAX_FRAMES_LISTED:
                    node.add_leaf(f"… {len(group.frames) - MAX_FRAMES_LISTED:,} more")
        tree.move_cursor_to_line(0)

    def on_tree_node_selected(self, message: Tree.NodeSelected[int | None]) -> None:
        """Enter on a summary or a packet: select that packet in the list."""
        if message.node.data is not None:
            self.dismiss(message.node.data)

    def action_close(self) -> None:
        """Back to the packet list."""
        self.dismiss(None)
