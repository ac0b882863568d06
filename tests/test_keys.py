"""The key table: every key answers one action, so no feature hides another."""

from __future__ import annotations

from collections import Counter

from tui.keys import KEYS


def test_no_two_entries_share_a_key() -> None:
    """Two helpers once gave ``e`` to two features; the app would only ever run one."""
    taken = Counter(key.key for key in KEYS)
    assert [key for key, count in taken.items() if count > 1] == []


def test_no_two_entries_share_an_action_or_id() -> None:
    actions = Counter(key.action for key in KEYS)
    ids = Counter(key.id for key in KEYS)
    assert [action for action, count in actions.items() if count > 1] == []
    assert [name for name, count in ids.items() if count > 1] == []
