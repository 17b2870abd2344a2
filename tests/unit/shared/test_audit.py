"""The pure parts of recording an action: changed fields, and the event an action becomes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import structlog

from shared.audit import SYSTEM, Actor, audit_event, changed_fields
from shared.auth import Principal
from shared.events import topics
from shared.events.audit import AuditRecorded
from shared.tracing import configure_tracing, continued_span

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_changed_fields_keeps_only_what_differs_as_json() -> None:
    before, after = changed_fields(
        {"name": "a", "due": date(2026, 1, 2), "tags": ["x"], "gone": 1},
        {"name": "b", "due": date(2026, 1, 2), "tags": ["x"], "new": {"k": 2}},
    )
    assert before == {"name": "a", "gone": 1, "new": None}
    assert after == {"name": "b", "gone": None, "new": {"k": 2}}
    assert changed_fields({"a": 1}, {"a": 1}) == ({}, {})


def test_an_actor_is_the_principal_with_its_roles() -> None:
    actor = Actor.of(Principal("acme", "hr-1", frozenset({"hr_admin", "employee"})))
    assert actor == Actor("person", "hr-1", ("employee", "hr_admin"))
    assert Actor.scim_token("t1") == Actor("scim_token", "t1")


def test_the_event_carries_who_what_when_and_the_request_and_trace() -> None:
    configure_tracing("test")
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    with (
        structlog.contextvars.bound_contextvars(request_id="req-1"),
        continued_span("request", TRACEPARENT),
    ):
        event = audit_event(
            tenant="acme",
            actor=Actor("person", "hr-1", ("hr_admin",)),
            action="goal.changed",
            object_type="goal",
            object_id="g1",
            service="goals",
            before={"due": date(2026, 1, 2)},
            after={"due": date(2026, 2, 2)},
            at=at,
        )
    assert event.type == AuditRecorded.event_type
    assert event.topic == topics.AUDIT
    payload = event.payload()
    assert isinstance(payload, AuditRecorded)
    assert payload.id == event.id  # the record id is the event id: a replay is a duplicate
    assert (payload.actor_type, payload.actor_id, payload.actor_roles) == (
        "person",
        "hr-1",
        ["hr_admin"],
    )
    assert (payload.object_type, payload.object_id, payload.at) == ("goal", "g1", at)
    assert payload.before == {"due": "2026-01-02"}
    assert payload.after == {"due": "2026-02-02"}
    assert payload.request_id == "req-1"
    assert payload.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert event.key == "acme:goal:g1"  # one object's records stay in order


def test_outside_a_request_the_record_has_no_request_id() -> None:
    event = audit_event(
        tenant="acme",
        actor=SYSTEM,
        action="x.done",
        object_type="x",
        object_id="1",
        service="people",
    )
    payload = event.payload()
    assert isinstance(payload, AuditRecorded)
    assert payload.request_id is None
    assert payload.actor_type == "system"
