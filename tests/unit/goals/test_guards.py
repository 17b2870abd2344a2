"""A goal's applied-event guards as its document keeps them: one packed binary value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.goals.domain import Goal
from services.goals.records import APPLIED_WINDOW, Applied, packed_guards, unpacked_guards
from services.goals.repository import goal_from_doc, goal_state

NOW = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def goal() -> Goal:
    return Goal(id="g1", tenant="acme", owner_id="pm", title="Raise adoption", horizon="short_term")


def test_a_full_window_packs_to_twelve_bytes_a_guard_and_reads_back() -> None:
    g = goal()
    for i in range(APPLIED_WINDOW):
        g.remember(f"dp-{i}", NOW + timedelta(seconds=i))
    packed = packed_guards(g.applied)
    assert len(packed) == 12 * APPLIED_WINDOW
    back = unpacked_guards(packed)
    # kept to the second: enough for a retention counted in days
    assert back == [Applied(a.digest, a.at.replace(microsecond=0)) for a in g.applied]


def test_a_stored_goal_keeps_its_guards_and_the_time_of_the_oldest() -> None:
    g = goal()
    g.remember("dp-1", NOW - timedelta(days=20))
    g.remember("dp-2", NOW)
    doc = {"_id": g.id, **goal_state(g), "version": 3}
    assert isinstance(doc["applied"], bytes)
    assert doc["applied_since"] == NOW - timedelta(days=20)
    loaded = goal_from_doc(doc)
    assert loaded.has_applied("dp-1")
    assert loaded.has_applied("dp-2")
    assert not loaded.has_applied("dp-3")
    assert loaded.prune_applied(NOW - timedelta(days=14)) == 1
    assert goal_state(loaded)["applied_since"] == NOW.replace(microsecond=0)


def test_a_goal_stored_with_the_guards_as_two_lists_still_refuses_what_it_applied() -> None:
    doc = {"_id": "g1", **goal_state(goal()), "version": 3}
    del doc["applied"], doc["applied_since"]
    doc["applied_ids"] = ["dp-1", "dp-2"]
    doc["applied_times"] = [NOW, NOW]
    loaded = goal_from_doc(doc)
    assert loaded.has_applied("dp-1")
    assert loaded.has_applied("dp-2")
    assert not loaded.has_applied("dp-3")
    # its next save writes them packed (the repository unsets the two lists in the same update)
    repacked = unpacked_guards(goal_state(loaded)["applied"])
    assert [a.digest for a in repacked] == [a.digest for a in loaded.applied]
