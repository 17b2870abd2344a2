"""Small records the goal aggregate keeps: applied-event guards, timeline entries, events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.events.envelope import EventPayload

# How many applied-event ids a goal keeps (data points, feedback, manager changes), newest
# last; the document, rewritten on every point, stays ~50 kB instead of growing with history.
# A redelivery is a record re-read after its partition's last commit (the runner commits after
# every fetch, at most 200 records), or an upstream outbox republishing within seconds; it is
# caught while fewer than this many other events moved the goal in between: 5 full fetches,
# or ~100 points/s into that one goal from other replicas during the ~10 s (session timeout) a
# crashed consumer's partitions take to move. ``latest`` key results ignore any redelivery
# anyway (an older or equal timestamp never overwrites); the window protects ``sum`` ones.
APPLIED_WINDOW = 1000


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
