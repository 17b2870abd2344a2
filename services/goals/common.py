"""What the use cases share: the clock, the tenant's risk margin, and saving with events."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from services.goals.domain import Goal
from services.goals.repository import OUTBOX, GoalRepository
from shared.events.envelope import Envelope, deterministic_id, new_event
from shared.messaging.outbox import Outbox
from shared.mongo import Document
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
        default_reminder_days: int = 7,
        notify: Callable[[], None] = lambda: None,
        clock: Clock = utcnow,
        margin_cache_s: float = 5.0,
        outbox: Outbox | None = None,
    ) -> None:
        self.repo = repo
        self.outbox = outbox
        self.default_margin = default_margin
        self.default_reminder_days = default_reminder_days
        self.notify = notify
        self.clock = clock
        self.margin_cache_s = margin_cache_s
        self._settings: dict[str, tuple[Document, float]] = {}  # tenant -> (settings, read at)

    async def margin(self, tenant: str) -> float:
        """The tenant's at-risk margin (see ``tenant_settings``)."""
        value = (await self.tenant_settings(tenant)).get("at_risk_margin")
        return self.default_margin if value is None else float(value)

    async def update_reminder_days(self, tenant: str) -> int:
        """The tenant's N: an active goal idle this many days gets the weekly update nudge."""
        value = (await self.tenant_settings(tenant)).get("update_reminder_days")
        return self.default_reminder_days if value is None else int(value)

    async def tenant_settings(self, tenant: str) -> Document:
        """The tenant's settings document, read at most once per ``margin_cache_s`` per tenant.

        Every data point needs the margin; reading the settings document for each one cost a
        round trip per point. A change made through another replica is seen within the cache
        time.
        """
        cached = self._settings.get(tenant)
        if cached is not None and time.monotonic() - cached[1] < self.margin_cache_s:
            return cached[0]
        doc = await self.repo.tenant_settings(tenant) or {}
        self._settings[tenant] = (doc, time.monotonic())
        return doc

    def forget_margin(self, tenant: str) -> None:
        """This replica changed the tenant's settings: read them again next time."""
        self._settings.pop(tenant, None)

    async def insert(self, goal: Goal, *, audit: Sequence[Envelope] = ()) -> None:
        """Insert the goal with its events, and ``audit`` records of its creation."""
        await self.repo.insert(goal, [*envelopes(goal, self.clock()), *audit])
        goal.events.clear()
        goal.new_timeline.clear()
        self.notify()

    async def save(
        self,
        goal: Goal,
        *,
        audit: Sequence[Envelope] = (),
        built: Sequence[Envelope] = (),
    ) -> None:
        """Save the goal with its events, and ``audit`` records of the change (same outbox).

        ``built``: events already made into envelopes (each under the trace of the data point
        that caused it, when one save applies several). Refused (VersionConflict) if another
        writer changed the goal since it was loaded, so nothing is applied twice.
        """
        has_events = bool(goal.events) or bool(audit) or bool(built)
        events = [*built, *envelopes(goal, self.clock()), *audit]
        await self.repo.save(goal, events)
        if has_events:
            self.notify()

    async def save_held(self, goal: Goal, *, built: Sequence[Envelope]) -> list[Envelope]:
        """``save`` for the KPI path, with its events held (``shared.messaging.outbox``): they
        replace the goal's outbox instead of joining it, and the caller publishes the returned
        events itself (``publish_held``) instead of leaving them to the relay, whose clear
        would be a second write of the goal for every point.

        The entries the goal was loaded with (``outbox=True``; held by an earlier save, of
        this replica or another; pending from a change through the API) are published first
        unless this process already did, so the goal's events keep their order and none is dropped
        unpublished. Without an outbox to publish through (unit tests), a plain ``save``.
        """
        if self.outbox is None:
            await self.save(goal, built=built)
            return []
        await self.outbox.publish_held(goal.stored.get(OUTBOX) or [])
        events = [*built, *envelopes(goal, self.clock())]
        relay_after = self.outbox.relay_after()
        await self.repo.save(goal, events, relay_after=relay_after)
        return events

    async def publish_held(self, events: Sequence[Envelope]) -> None:
        """Publish what ``save_held`` saved (a run's saves at once: one acknowledgement)."""
        if self.outbox is not None and events:
            await self.outbox.publish_held(events)
