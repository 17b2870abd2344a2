"""``amplitude``: event streaming (an event, a list or ``{"events": [...]}``; identified by
``$insert_id`` or ``uuid``) and cohort webhooks (``cohort_id`` + ``users``: the number of users
entering or leaving the cohort becomes one point)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.kpi_ingest.domain import RawPoint
from services.kpi_ingest.formats.common import ParseContext, Parsed, apply_rules, event_rules
from shared.errors import InvalidInput


def check_mapping(mapping: Mapping[str, Any]) -> None:
    event_rules(mapping)
    cohorts = mapping.get("cohorts", {})
    if not isinstance(cohorts, Mapping) or not all(isinstance(v, str) for v in cohorts.values()):
        raise InvalidInput("mapping.cohorts must map cohort ids or names to metric keys")


def cohort_metric(mapping: Mapping[str, Any], cohort_id: Any, name: Any) -> Any:
    cohorts = mapping.get("cohorts") or {}
    return cohorts.get(str(cohort_id)) or cohorts.get(str(name)) or mapping.get("cohort_metric")


def _cohort(body: Mapping[str, Any], mapping: Mapping[str, Any], context: ParseContext) -> Parsed:
    users = body.get("users")
    if not isinstance(users, list):
        raise InvalidInput("an Amplitude cohort payload needs a users list")
    cohort_id = body.get("cohort_id")
    entered = body.get("in_cohort", True) is not False
    event_id = body.get("message_id") or f"{cohort_id}:{body.get('computed_time')}:{entered}"
    point = RawPoint(
        ref=f"cohort {cohort_id}",
        metric=cohort_metric(mapping, cohort_id, body.get("cohort_name")),
        value=len(users),
        timestamp=body.get("computed_time") or context.received_at,
        dimensions={
            "cohort": str(body.get("cohort_name") or cohort_id),
            "membership": "entered" if entered else "exited",
        },
        source_event_id=event_id,
    )
    return Parsed(points=[point])


def parse(body: Any, mapping: Mapping[str, Any], context: ParseContext) -> Parsed:
    if isinstance(body, Mapping) and "cohort_id" in body:
        return _cohort(body, mapping, context)
    if isinstance(body, list):
        events = body
    elif isinstance(body, Mapping) and isinstance(body.get("events"), list):
        events = body["events"]
    elif isinstance(body, Mapping):
        events = [body]
    else:
        raise InvalidInput("an Amplitude payload is an event, a list of events or a cohort")
    rules = event_rules(mapping)
    points = []
    ignored = 0
    for n, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise InvalidInput(f"event {n} is not an Amplitude event")
        event_id = event.get("$insert_id") or event.get("insert_id") or event.get("uuid")
        found = apply_rules(
            rules,
            event,
            ref=f"event {event_id}",
            name=event.get("event_type"),
            kind=None,
            event_id=event_id,
            timestamp=event.get("event_time") or event.get("time") or context.received_at,
        )
        ignored += not found
        points.extend(found)
    return Parsed(points=points, ignored=ignored)
