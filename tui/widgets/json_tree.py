"""A JSON document as a folding tree, for the request detail's Preview tab.

Objects and arrays are branches (folded, except the top one), scalars leaves.
Large documents stop at ``MAX_NODES`` nodes so a 10 MB response cannot stall the UI:
the tree says how many values it left out.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

MAX_NODES = 5_000
MAX_LEAF = 200
"""Characters of a string value shown on its line."""


def parse_json(text: str) -> Any | None:
    """The document, or None when ``text`` is not JSON (or is a bare scalar)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict | list) else None


def scalar(value: Any) -> Text:
    """A leaf's value as JSON writes it, coloured by kind."""
    if isinstance(value, str):
        shown = value if len(value) <= MAX_LEAF else value[:MAX_LEAF] + "…"
        return Text(json.dumps(shown, ensure_ascii=False), style="green")
    if value is None or isinstance(value, bool):
        return Text(json.dumps(value), style="magenta")
    return Text(str(value), style="cyan")


def summary(value: dict[str, Any] | list[Any]) -> str:
    """What a folded branch holds: ``{3}`` or ``[12]``."""
    return f"{{{len(value)}}}" if isinstance(value, dict) else f"[{len(value)}]"


class JsonTree(Tree[None]):
    """A JSON body, folding; built breadth-first up to MAX_NODES nodes."""

    DEFAULT_CSS = """
    JsonTree { background: $surface; height: auto; max-height: 100%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("JSON", id=id)
        self.show_root = True
        self.left_out = 0
        """Values not added because the document is past MAX_NODES."""
        self.shown_for: object = None
        """What the tree was built from (the detail rebuilds it only when that changes)."""

    def show_document(self, document: dict[str, Any] | list[Any], label: str = "JSON") -> None:
        """Replace the tree with ``document``; the top level unfolded."""
        self.clear()
        self.root.set_label(Text(f"{label} {summary(document)}", style="bold"))
        self.left_out = 0
        budget = MAX_NODES
        queue: list[tuple[TreeNode[None], dict[str, Any] | list[Any]]] = [(self.root, document)]
        while queue:
            node, value = queue.pop(0)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                if budget <= 0:
                    self.left_out += 1
                    continue
                budget -= 1
                name = Text(f"{key}: ", style="bold")
                if isinstance(child, dict | list):
                    branch = node.add(name + Text(summary(child), style="dim"))
                    queue.append((branch, child))
                else:
                    node.add_leaf(name + scalar(child))
        if self.left_out:
            self.root.add_leaf(Text(f"… {self.left_out:,} more values not shown", style="italic"))
        self.root.expand()

    def plain_lines(self) -> list[str]:
        """Every node's label, depth-first (for tests and plain_text), folded or not."""
        lines: list[str] = []
        stack: list[tuple[TreeNode[None], int]] = [(self.root, 0)]
        while stack:  # not recursive: a deep document must not hit the recursion limit
            node, depth = stack.pop()
            label = node.label
            lines.append("  " * depth + (label.plain if isinstance(label, Text) else str(label)))
            stack.extend((child, depth + 1) for child in reversed(node.children))
        return lines
