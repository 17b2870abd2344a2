"""Outbox entries as documents keep them: a held entry packed, a pending one (or a held one
written before packing) a document; both read back as the event that went in."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.events import Envelope, new_event
from shared.events.goals import GoalProgressUpdated
from shared.messaging.outbox import HELD, PENDING, entries, held_outbox, packed, unpacked

AT = datetime(2026, 3, 9, 22, 15, 30, 123000, tzinfo=UTC)  # BSON dates keep milliseconds


def event(n: int) -> Envelope:
    return new_event(
        GoalProgressUpdated(
            goal_id="g1",
            tenant="acme",
            owner_id="ada",
            title="Ship",
            horizon="short_term",
            status="active",
            old_progress=n / 10,
            new_progress=(n + 1) / 10,
            cause={"kind": "kpi", "metric": "adoption"},
        ),
        tenant="acme",
        subject="g1",
        source="tests",
        time=AT,
        traceparent="00-889d30c90409084f0fb36ad3ad251279-4f6aa0a3a199ff99-01",
    )


def test_a_packed_entry_reads_back_as_the_event_that_went_in() -> None:
    e = event(1)
    entry = packed(e)
    assert isinstance(entry, bytes)
    assert unpacked(entry) == e
    assert unpacked(e.to_document()) == e  # a document (pending, or held before packing)


def test_a_held_save_packs_its_entries_and_entries_reads_held_then_pending_in_order() -> None:
    held, pending = [event(1), event(2)], event(3)
    update = held_outbox({"$set": {"x": 1}}, held, AT)
    assert all(isinstance(entry, bytes) for entry in update["$set"][HELD])
    assert update["$set"][PENDING] == []
    doc = {HELD: update["$set"][HELD], PENDING: [pending.to_document()]}
    assert entries(doc) == [*held, pending]
