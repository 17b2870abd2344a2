"""Small records the goal aggregate keeps: applied-event guards, timeline entries, events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.events.envelope import EventPayload


@dataclass
class Applied:
    """An event already applied to this goal (data point, feedback, manager change)."""

    id: str
    at: datetime


@dataclass
class TimelineEntry:
    id: str
    at: datetime
    kind: Literal["progress", "check_in", "feedback", "status", "review"]
    data: dict[str, Any]


@dataclass
class PendingEvent:
    payload: EventPayload
    key: tuple[str, ...] | None = None  # makes the event id deterministic
