"""``posthog``: PostHog webhook destinations (``{"event": {...}, "person": {...}}``), a bare event
or ``{"batch": [...]}``. ``uuid`` identifies an event; rules match the event name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.kpi_ingest.formats.common import (
    ParseContext,
    Parsed,
    apply_rules,
    event_rules,
    need_object,
)
from shared.errors import InvalidInput


def check_mapping(mapping: Mapping[str, Any]) -> None:
    event_rules(mapping)


def _events(payload: Mapping[str, Any]) -> list[Any]:
    if isinstance(payload.get("batch"), list):
        return list(payload["batch"])
    if isinstance(payload.get("event"), Mapping):
        # the destination's default body: the event, plus the person beside it
        event = dict(payload["event"])
        if isinstance(payload.get("person"), Mapping):
            event.setdefault("person", payload["person"])
        return [event]
    return [payload]


def parse(body: Any, mapping: Mapping[str, Any], context: ParseContext) -> Parsed:
    events = _events(need_object(body, "PostHog"))
    rules = event_rules(mapping)
    points = []
    ignored = 0
    for n, event in enumerate(events):
        if not isinstance(event, Mapping):
            raise InvalidInput(f"event {n} is not a PostHog event")
        found = apply_rules(
            rules,
            event,
            ref=f"event {event.get('uuid')}",
            name=event.get("event"),
            kind=None,
            event_id=event.get("uuid"),
            timestamp=event.get("timestamp") or context.received_at,
        )
        ignored += not found
        points.extend(found)
    return Parsed(points=points, ignored=ignored)
