"""The event envelope and the payload catalogue (importing this package registers them all)."""

from shared.events import (
    audit,
    feedback,
    goals,
    kpi,
    notifications,
    people,
    privacy,
    reviews,
    topics,
)
from shared.events.codec import from_record, from_structured, to_record, to_structured
from shared.events.envelope import (
    CATALOGUE,
    Envelope,
    EventPayload,
    MalformedEvent,
    deterministic_id,
    new_event,
)

__all__ = [
    "CATALOGUE",
    "Envelope",
    "EventPayload",
    "MalformedEvent",
    "audit",
    "deterministic_id",
    "feedback",
    "from_record",
    "from_structured",
    "goals",
    "kpi",
    "new_event",
    "notifications",
    "people",
    "privacy",
    "reviews",
    "to_record",
    "to_structured",
    "topics",
]
