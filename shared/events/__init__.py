"""The event envelope and the payload catalogue (importing this package registers them all)."""

from shared.events import feedback, goals, kpi, notifications, people, topics
from shared.events.envelope import (
    CATALOGUE,
    Envelope,
    EventPayload,
    MalformedEvent,
    deterministic_id,
    from_record,
    new_event,
    to_record,
)

__all__ = [
    "CATALOGUE",
    "Envelope",
    "EventPayload",
    "MalformedEvent",
    "deterministic_id",
    "feedback",
    "from_record",
    "goals",
    "kpi",
    "new_event",
    "notifications",
    "people",
    "to_record",
    "topics",
]
