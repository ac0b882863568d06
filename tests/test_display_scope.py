"""The display filter's scope, in the words of the note and of the status bar."""

from __future__ import annotations

from tui.display_scope import DisplayScope


def test_no_filter_says_nothing() -> None:
    assert DisplayScope().counts((10, 10, False), (3, 3)) == ""


def test_a_packet_filter_counts_packets_and_leaves_the_requests() -> None:
    scope = DisplayScope("dns", packets=True)
    assert scope.counts((2, 15, False), (4, 4)) == (
        "display: dns · 2 of 15 packets · requests not filtered (4)"
    )
    assert scope.counts((2, 15, True), None, short=True) == "/dns 2 pkts"
    assert scope.counts((2, 15, True), None) == "display: dns · 2 of 15 packets (scanning…)"
    assert scope.counts((2, 15, False), (4, 4), short=True) == "/dns 2 pkts all req"
    assert scope.words(has_packets=True, has_browser=True) == (
        "packets only: it names no request field"
    )
    assert scope.words(has_packets=True, has_browser=False) == "packets"


def test_a_request_filter_and_a_long_one_in_the_short_form() -> None:
    scope = DisplayScope("status >= 400 and status < 500", requests=True)
    assert scope.counts((9, 9, False), (1, 7), short=True) == "/status >= 400 and… all pkts 1 req"
    assert scope.words(has_packets=True, has_browser=True) == (
        "requests only: it names no packet field"
    )
    assert DisplayScope("x", packets=True, requests=True).words(True, True) == "both panes"
    assert DisplayScope("x").words(True, True).startswith("nothing filtered")
