"""What the use cases share: the clock, the tenant's risk margin, and saving with events."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime

from services.goals.domain import Goal
from services.goals.repository import GoalRepository
from shared.events.envelope import Envelope, deterministic_id, new_event
from shared.time import Clock, utcnow

SOURCE = "northstar/goals"


def new_id() -> str:
    """Time-ordered opaque ids, so cursor pagination follows creation order."""
    return f"{time.time_ns() // 1_000_000:012x}{uuid.uuid4().hex[:12]}"


def envelopes(goal: Goal, now: datetime) -> list[Envelope]:
    """The goal's recorded events as CloudEvents (deterministic ids where a key is given)."""
    return [
        new_event(
            pending.payload,
            tenant=goal.tenant,
            subject=goal.id,
            source=SOURCE,
            id=deterministic_id(*pending.key) if pending.key else None,
            time=now,
        )
        for pending in goal.events
    ]


class GoalStore:
    """Saves a goal with its outbox and wakes the relay."""

    def __init__(
        self,
        repo: GoalRepository,
        *,
        default_margin: float,
        notify: Callable[[], None] = lambda: None,
        clock: Clock = utcnow,
    ) -> None:
        self.repo = repo
        self.default_margin = default_margin
        self.notify = notify
        self.clock = clock

    async def margin(self, tenant: str) -> float:
        doc = await self.repo.tenant_settings(tenant)
        if doc and doc.get("at_risk_margin") is not None:
            return float(doc["at_risk_margin"])
        return self.default_margin

    async def insert(self, goal: Goal) -> None:
        await self.repo.insert(goal, envelopes(goal, self.clock()))
        goal.events.clear()
        goal.new_timeline.clear()
        self.notify()

    async def save(self, goal: Goal, *, guard_event_id: str | None = None) -> None:
        has_events = bool(goal.events)
        await self.repo.save(goal, envelopes(goal, self.clock()), guard_event_id=guard_event_id)
        if has_events:
            self.notify()
