"""The pure parts of a person's erasure in the people service: its events and its marker."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from services.people.erasure import ErasureStatus, erasure_events
from services.people.erasure_repository import erased_marker, group_without
from shared.events.codec import to_record

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_erased_then_mentorship_tombstones_then_the_persons_tombstone_last() -> None:
    events = erasure_events("t1", "p1", ["m1"])
    assert [e.type.split(".")[1:3] for e in events] == [
        ["person", "erased"],
        ["mentorship", "removed"],
        ["person", "removed"],
    ]
    records = [to_record(e) for e in events]
    assert [(key, value is None) for key, value, _ in records] == [
        (b"p1", False),
        (b"m1", True),
        (b"p1", True),  # the last record of the person's key: compaction keeps only this
    ]
    assert [e.id for e in erasure_events("t1", "p1", ["m1"])] == [e.id for e in events]


def test_the_marker_keeps_the_id_the_status_and_the_unpublished_events_only() -> None:
    stored = {
        "_id": "p1",
        "tenant": "t1",
        "version": 4,
        "user_name": "ada@example.com",
        "display_name": "Ada",
        "email_keys": ["ada@example.com"],
        "scim": '{"userName": "ada@example.com"}',
        "pending_events": [{"id": "earlier"}],
    }
    events = erasure_events("t1", "p1", [])
    marker = erased_marker(stored, events, ["goals", "feedback"], NOW, "hr")
    text = orjson.dumps(marker, default=str).decode()
    assert "ada" not in text.lower()
    assert marker["version"] == 5
    assert marker["deleted"] is True
    assert [e["id"] for e in marker["pending_events"]] == ["earlier", *(e.id for e in events)]
    status = ErasureStatus.of(marker)
    assert status.status == "pending"
    assert status.services == {"feedback": "pending", "goals": "pending"}


def test_a_groups_scim_copy_loses_the_member_and_their_display_name() -> None:
    scim = orjson.dumps(
        {"displayName": "G", "members": [{"value": "p1", "display": "Ada"}, {"value": "p2"}]}
    ).decode()
    assert orjson.loads(group_without(scim, "p1") or "") == {
        "displayName": "G",
        "members": [{"value": "p2"}],
    }
    assert group_without(None, "p1") is None
