"""The dissector export dialog (``x``): spec → Lua, then the selected packet decoded by it.

From a spec file, or from a draft livetap writes from the selected UDP/TCP
packet (for the user to edit and export again). Generation and the tshark run
happen in a worker thread; errors show in the dialog, which stays open.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from engine.dissect import FieldNode
from engine.dissector import decode_frame, generate_lua, load_spec
from engine.dissector.draft import draft_from_frame
from engine.dissector.output import output_path
from engine.errors import LivetapError
from engine.events import PacketSummary
from engine.textfile import write_text_whole


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export produced, for the detail pane and the next export."""

    spec_path: Path
    lua_path: Path
    protocol: str
    packet_index: int | None
    nodes: tuple[FieldNode, ...]
    note: str


def export_and_decode(
    spec_path: Path, output: Path | None, directory: Path, packet: PacketSummary | None
) -> ExportResult:
    """Validate the spec, write the Lua file, and decode the packet with it (any thread).

    The Lua file goes into ``directory`` (the capture directory) unless ``output`` is absolute.
    """
    spec = load_spec(spec_path)
    lua_path = output_path(output, directory, f"{spec.name}.lua")
    write_text_whole(lua_path, generate_lua(spec))
    if packet is None:
        return ExportResult(spec_path, lua_path, spec.name, None, (), f"wrote {lua_path}")
    nodes = decode_frame(lua_path, packet.linktype, packet.data, packet.timestamp, spec.name)
    if not nodes:
        note = f"wrote {lua_path}; packet {packet.index} is not {spec.name} (port or magic differ)"
    else:
        note = f"wrote {lua_path}; packet {packet.index} decoded by it"
    return ExportResult(spec_path, lua_path, spec.name, packet.index, nodes, note)


def default_spec() -> str:
    """The spec x offers first: the example's, when livetap runs from its checkout."""
    example = Path("examples/sensor.json")
    return str(example) if example.is_file() else ""


def write_draft(packet: PacketSummary, directory: Path) -> Path:
    """A draft spec from the packet's payload, written next to the captures."""
    name = f"proto{packet.dport or packet.sport or 0}"
    draft = draft_from_frame(packet.linktype, packet.data, name)
    path = output_path(None, directory, f"{name}.json")
    write_text_whole(path, json.dumps(draft, indent=2) + "\n")
    return path


class DissectorExport(ModalScreen[ExportResult | None]):
    """Spec file, output file, and the buttons: export, draft from the packet, cancel."""

    DEFAULT_CSS = """
    DissectorExport { align: center middle; }
    DissectorExport > Vertical {
        width: 90; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    DissectorExport .title { text-style: bold; }
    DissectorExport Label { margin-top: 1; }
    DissectorExport Horizontal { height: auto; }
    DissectorExport Button { margin: 1 1 0 0; }
    DissectorExport #export-error { color: $error; text-style: bold; }
    DissectorExport #export-note { color: $text-muted; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        spec_path: str,
        directory: Path,
        packet: Callable[[], PacketSummary | None],
    ) -> None:
        super().__init__()
        self._spec_path = spec_path
        self._directory = directory
        self._packet = packet

    def compose(self) -> ComposeResult:
        packet = self._packet()
        about = (
            f"packet {packet.index} ({packet.protocol} {packet.info[:50]})"
            if packet
            else "no packet selected"
        )
        with Vertical():
            yield Label("Export a Wireshark Lua dissector", classes="title")
            yield Static(f"Selected: {about}", id="export-note", markup=False)
            yield Label("Spec file (JSON or YAML; see examples/README.md)")
            yield Input(self._spec_path, placeholder="examples/sensor.json", id="export-spec")
            yield Label(
                "Lua file (empty: <protocol>.lua; a relative name: in the capture directory)"
            )
            yield Input("", id="export-output")
            yield Static("", id="export-error", markup=False)
            with Horizontal():
                yield Button("Export", variant="primary", id="export-go")
                yield Button("Draft spec from packet", id="export-draft")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        """Focus the spec; without one, offer the draft from the selected packet instead."""
        if self._spec_path.strip():
            self.query_one("#export-spec", Input).focus()
            return
        packet = self._packet()
        if packet is None:
            self.query_one("#export-spec", Input).focus()
            return
        self.query_one("#export-draft", Button).focus()
        self._say("", self._offer(packet))

    @staticmethod
    def _offer(packet: PacketSummary) -> str:
        return (
            f"No spec file yet: draft one from packet {packet.index} ({packet.protocol}), "
            "edit it, then Export; or enter a spec file"
        )

    def _say(self, error: str = "", note: str | None = None) -> None:
        self.query_one("#export-error", Static).update(error)
        if note is not None:
            self.query_one("#export-note", Static).update(note)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Export, draft or cancel."""
        if event.button.id == "export-go":
            self.export()
        elif event.button.id == "export-draft":
            self.draft()
        else:
            self.dismiss(None)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.export()

    def draft(self) -> None:
        """Write a draft spec from the selected packet and put its path in the form."""
        packet = self._packet()
        if packet is None:
            self._say("select a UDP or TCP packet with a payload first")
            return
        try:
            path = write_draft(packet, self._directory)
        except LivetapError as error:
            self._say(error.message)
            return
        self.query_one("#export-spec", Input).value = str(path)
        self._say("", f"draft written to {path}: edit it, then Export")

    def export(self) -> None:
        """Generate and decode in a worker thread."""
        spec = self.query_one("#export-spec", Input).value.strip()
        if not spec:
            if self._packet() is None:
                self._say("enter a spec file, or select a UDP or TCP packet to draft one from")
                return
            self.draft()  # offered instead of a refusal: the draft's path fills the field
            return
        output = self.query_one("#export-output", Input).value.strip()
        self._say("", "exporting and decoding with tshark…")
        self._run(Path(spec).expanduser(), Path(output).expanduser() if output else None)

    @work(thread=True, exclusive=True, group="export")
    def _run(self, spec: Path, output: Path | None) -> None:
        try:
            result = export_and_decode(spec, output, self._directory, self._packet())
        except LivetapError as error:
            self.app.call_from_thread(self._say, error.message, "")
            return
        self.app.call_from_thread(self.dismiss, result)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @property
    def error_text(self) -> str:
        """The refusal shown, for tests."""
        return str(self.query_one("#export-error", Static).content)
