"""The body store: bodies kept within a total and a per-body cap, oldest dropped first."""

from __future__ import annotations

from engine.browser.bodies import BodyStore


def test_oldest_bodies_are_dropped_first_and_the_store_says_so() -> None:
    store = BodyStore(memory=100, max_body=60)
    store.put("a", b"a" * 40)
    store.put("b", b"b" * 40)
    assert store.used == 80 and len(store) == 2
    store.put("c", b"c" * 40)  # 120 > 100: "a", the oldest, goes
    assert store.get("a") is None and store.get("b") == b"b" * 40 and store.get("c") == b"c" * 40
    assert store.used == 80 and store.dropped == 1
    why = store.why_missing("a")
    assert why is not None and "dropped its copy of this body (40 B)" in why and "100 B" in why
    assert store.why_missing("b") is None


def test_a_body_over_the_per_body_cap_is_not_kept_and_nothing_else_goes() -> None:
    store = BodyStore(memory=100, max_body=60)
    store.put("small", b"s" * 50)
    store.put("big", b"B" * 61)
    assert store.get("big") is None and store.get("small") == b"s" * 50 and store.used == 50
    why = store.why_missing("big")
    assert why is not None and "larger than livetap keeps (at most 60 B a body)" in why
    store.put("big", b"B" * 10)  # kept later after all: the note goes
    assert store.get("big") == b"B" * 10 and store.why_missing("big") is None


def test_a_body_kept_again_replaces_the_old_one_and_the_total_stays_right() -> None:
    store = BodyStore(memory=1000, max_body=1000)
    store.put("x", b"1" * 300)
    store.put("x", b"2" * 100)
    assert store.used == 100 and store.get("x") == b"2" * 100
    store.clear()
    assert store.used == 0 and len(store) == 0
