"""The status bar's fitting rule: what shortens and what goes on a short line."""

from __future__ import annotations

from rich.text import Text

from tui.widgets.status_bar import Part, StatusBar


def line(parts: list[Part], width: int) -> str:
    return StatusBar.fit(parts, width).plain


def test_the_least_important_part_shortens_then_goes() -> None:
    parts = [Part(1, Text("lo")), Part(7, Text("125 packets 18 KiB"), Text("125 pkts"))]
    assert line(parts, 80) == "lo │ 125 packets 18 KiB"
    assert line(parts, 20) == "125 packets 18 KiB"
    assert line(parts, 0) == "125 packets 18 KiB"  # the last part always stays


def test_a_shortened_count_outlives_the_long_words_of_more_important_parts() -> None:
    count = Part(7, Text("125 packets 18 KiB"), Text("125 pkts"))
    drops = Part(9, Text("drops 34"))
    state = Part(10, Text("● LIVE · packets: FOLLOWING"), Text("● LIVE · pkts: FOLLOWING"))
    browser = Part(
        8, Text("browser connected 10 requests: FOLLOWING"), Text("browser 10 req: FOLLOWING")
    )
    parts = [count, drops, state, browser]
    assert line(parts, 78) == (
        "125 pkts │ drops 34 │ ● LIVE · packets: FOLLOWING │ browser 10 req: FOLLOWING"
    )
    assert line(parts, 76) == (
        "125 pkts │ drops 34 │ ● LIVE · pkts: FOLLOWING │ browser 10 req: FOLLOWING"
    )
    assert line(parts, 70) == "drops 34 │ ● LIVE · pkts: FOLLOWING │ browser 10 req: FOLLOWING"
