"""The request detail in tabs (issue 19): Headers, Payload, Preview, Response, Timing, On
the wire, Initiator when known; a JSON body folds in the Preview. Recorded CDP events."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import TabbedContent
from textual.widgets._tabbed_content import ContentTab

from tests.request_demo import browser_app, loaded, select, until
from tui.widgets.json_tree import MAX_NODES, JsonTree
from tui.widgets.request_detail import RequestDetail


def tab_titles(detail: RequestDetail) -> list[str]:
    tabs = detail.query_one(TabbedContent)
    return [tab.label.plain for tab in tabs.query(ContentTab) if tab.display]


async def test_the_detail_is_in_tabs_and_a_json_body_folds() -> None:
    app = browser_app()
    async with app.run_test(size=(120, 40)) as pilot:
        main, requests = await loaded(pilot, app)
        detail = main.query_one(RequestDetail)
        requests.focus()
        select(requests, "/static/site.css")  # started by the parser: no initiator URL
        await pilot.pause(0.2)
        assert "Initiator" not in tab_titles(detail)
        select(requests, "/api/stats?round=2")
        await pilot.pause(0.2)
        assert tab_titles(detail) == [
            "Headers",
            "Payload",
            "Preview",
            "Response",
            "Timing",
            "On the wire",
            "Initiator",
        ]
        assert detail.active_tab == "headers"
        text = detail.plain_text()
        assert "General" in text and "Request headers" in text and "round" in text
        assert "wait" in text and "script" in text  # Timing and Initiator tabs
        await pilot.press("b")
        await until(pilot, lambda: detail.active_tab == "preview")
        tree = detail.query_one(JsonTree)
        assert tree.display and len(tree.root.children) > 0
        assert tree.root.is_expanded
        assert any("sensors: 3" in line for line in tree.plain_lines())
        detail.focus()
        await pilot.pause()
        assert app.focused is tree
        assert "Response body" in detail.plain_text()
        detail.open_tab("timing")
        await pilot.pause()
        assert detail.query_one("#tab-timing").region.height > 0


class TreeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield JsonTree()


async def test_a_json_preview_folds_below_the_top_and_stops_at_its_node_budget() -> None:
    app = TreeApp()
    async with app.run_test() as pilot:
        tree = app.query_one(JsonTree)
        tree.show_document({"user": {"name": "ada", "roles": ["a", "b"]}, "ok": True})
        await pilot.pause()
        user = tree.root.children[0]
        assert tree.root.is_expanded and not user.is_expanded
        assert str(user.label) == "user: {2}"
        assert tree.plain_lines()[1:] == [
            "  user: {2}",
            '    name: "ada"',
            "    roles: [2]",
            '      0: "a"',
            '      1: "b"',
            "  ok: true",
        ]
        tree.show_document(list(range(MAX_NODES + 10)))
        await pilot.pause()
        assert tree.left_out == 10
        assert tree.plain_lines()[-1].strip() == "… 10 more values not shown"
