"""The people service's audit rules and read-model pieces that need no store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.people.audit import (
    IMPORT_DETAIL_LIMIT,
    AuditQuery,
    after_cursor,
    csv_header,
    import_details,
    person_audit_events,
)
from services.people.domain import PersonFacts
from shared.audit import Actor
from shared.pagination import InvalidCursor, encode_cursor

HR = Actor("person", "hr-1", ("hr_admin",))
ADA = PersonFacts(user_name="ada", manager_id="boss")


def actions(before: PersonFacts, after: PersonFacts, **kw: bool) -> list[tuple[str, object]]:
    found = []
    for event in person_audit_events("acme", HR, "p1", before, after, **kw):
        data = event.data
        found.append((data["action"], data["after"]))
    return found


def test_a_manager_change_and_a_deactivation_are_one_record_each() -> None:
    assert actions(ADA, ADA.with_changes(manager_id="other")) == [
        ("person.manager_changed", {"manager_id": "other"})
    ]
    assert actions(ADA, ADA.with_changes(active=False)) == [
        ("person.deactivated", {"active": False})
    ]
    both = ADA.with_changes(manager_id=None, active=False)
    assert [a for a, _ in actions(ADA, both)] == ["person.manager_changed", "person.deactivated"]


def test_other_changes_and_repeats_are_not_recorded() -> None:
    assert actions(ADA, ADA.with_changes(title="CTO")) == []
    inactive = ADA.with_changes(active=False)
    assert actions(inactive, inactive) == []  # deactivating again is no action
    assert actions(inactive, inactive.with_changes(active=True)) == []


def test_a_scim_delete_is_recorded_as_a_removal() -> None:
    assert actions(ADA, ADA.with_changes(active=False), deleted=True) == [
        ("person.deleted", {"active": False})
    ]


def test_import_details_keep_the_summary_and_bounded_lists() -> None:
    many = [{"id": f"p{i}"} for i in range(IMPORT_DETAIL_LIMIT + 5)]
    diff = {
        "created": many,
        "deactivated": [{"id": "gone"}],
        "manager_changes": [{"id": "x", "old_manager_id": "a", "new_manager_id": "b"}],
        "summary": {"created": len(many), "deactivated": 1},
    }
    details = import_details(diff)
    assert details["summary"] == {"created": len(many), "deactivated": 1}
    assert len(details["created_ids"]) == IMPORT_DETAIL_LIMIT
    assert details["truncated"] is True
    assert details["deactivated_ids"] == ["gone"]
    assert details["manager_changes"] == [{"id": "x", "old_manager_id": "a", "new_manager_id": "b"}]
    assert import_details({"summary": {}})["truncated"] is False


def test_a_query_always_names_the_tenant() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert AuditQuery().filter("acme") == {"tenant": "acme"}
    assert AuditQuery(actor_id="hr-1", object_type="goal", start=start).filter("acme") == {
        "tenant": "acme",
        "actor_id": "hr-1",
        "object_type": "goal",
        "at": {"$gte": start},
    }


def test_a_cursor_is_older_than_the_last_record_and_a_forged_one_is_refused() -> None:
    at = datetime(2026, 1, 1, 3, tzinfo=UTC)
    condition = after_cursor(encode_cursor({"at": int(at.timestamp() * 1000), "id": "r3"}))
    assert condition == {"$or": [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": "r3"}}]}
    assert after_cursor(None) is None
    for forged in ({"at": "yesterday", "id": "r3"}, {"at": 10**15, "id": "r3"}, {"at": True}):
        with pytest.raises(InvalidCursor):
            after_cursor(encode_cursor(forged))


def test_the_csv_header_names_every_column() -> None:
    assert csv_header().strip().split(",")[:4] == ["at", "action", "actor_type", "actor_id"]
