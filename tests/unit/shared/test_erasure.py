"""The shared parts of erasure and retention that need no server: tombstones on the wire and
in the router, the completion report, the retention cutoff."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from services.goals.records import applied_digest
from shared.erasure import completion, exported, replaced, without
from shared.events.codec import from_record, to_record
from shared.events.envelope import new_event
from shared.events.people import PersonErased, PersonRemoved
from shared.messaging.consumer import Router, Tombstone
from shared.retention import cutoff


def test_a_tombstone_type_is_written_with_a_null_value_under_the_persons_key() -> None:
    event = new_event(PersonRemoved(id="p1", tenant="t1"), tenant="t1", subject="p1", source="x")
    key, value, headers = to_record(event)
    assert key == b"p1"
    assert value is None
    assert dict(headers)["ce_tenant"] == b"t1"


def test_person_erased_is_an_ordinary_event_without_personal_data() -> None:
    event = new_event(PersonErased(id="p1", tenant="t1"), tenant="t1", subject="p1", source="x")
    _key, value, headers = to_record(event)
    assert value is not None
    assert from_record(value, headers).payload() == PersonErased(id="p1", tenant="t1")
    assert set(PersonErased.model_fields) == {"id", "tenant"}


async def test_the_router_hands_tombstones_to_their_topics_handlers_only() -> None:
    router = Router()
    seen: list[Tombstone] = []

    @router.on_tombstone("northstar.people.v1")
    async def on_tombstone(tombstone: Tombstone) -> None:
        seen.append(tombstone)

    people = Tombstone("northstar.people.v1", "p1", "t1")
    assert await router.dispatch_tombstone(people)
    assert not await router.dispatch_tombstone(Tombstone("northstar.goals.v1", "g1", "t1"))
    assert seen == [people]
    assert "northstar.people.v1" in router.topics


def test_a_services_completion_report_has_the_same_id_on_every_retry() -> None:
    first, again = completion("goals", "t1", "p1"), completion("goals", "t1", "p1")
    assert first.id == again.id
    assert first.id != completion("feedback", "t1", "p1").id
    assert first.data == {"id": "p1", "tenant": "t1", "service": "goals"}


def test_ids_lists_lose_or_replace_the_person() -> None:
    assert without(["a", "p", "b"], "p") == ["a", "b"]
    assert replaced(["a", "p"], "p") == ["a", "erased"]


def test_the_retention_cutoff_is_days_before_now() -> None:
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert cutoff(now, 30) == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_an_export_shows_binary_values_as_base64() -> None:
    # a goal's packed applied-event guards are not UTF-8: the export once answered 500 on them
    guards = applied_digest("dp-1") + b"\x00\xff\xfe\xdf"
    shown = exported({"goals": [{"_id": "g1", "applied": guards, "title": "Grow"}]})
    assert shown == {
        "goals": [{"_id": "g1", "applied": base64.b64encode(guards).decode(), "title": "Grow"}]
    }
    assert json.loads(json.dumps(shown)) == shown
