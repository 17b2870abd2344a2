"""What the use cases share: the clock, who a caller is to a person, and saving with events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from services.reviews.access import Relationship
from services.reviews.cycle import Cycle
from services.reviews.domain import Review
from services.reviews.records import PendingEvent
from services.reviews.repository import ReviewRepository
from shared.auth import Principal
from shared.directory import Person
from shared.events.envelope import Envelope, deterministic_id, new_event
from shared.time import Clock, utcnow

SOURCE = "northstar/reviews"


class Directory(Protocol):
    """The part of the people projection the service reads (shared.directory.PeopleDirectory)."""

    async def get(self, tenant: str, person_id: str) -> Person | None: ...
    async def many(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Person]: ...
    async def management_chain(self, tenant: str, person_id: str) -> list[str]: ...
    async def members(
        self, tenant: str, *, department: str | None = None, limit: int = ...
    ) -> list[Person]: ...


def envelopes(
    tenant: str, subject: str, events: list[PendingEvent], now: datetime
) -> list[Envelope]:
    return [
        new_event(
            pending.payload,
            tenant=tenant,
            subject=subject,
            source=SOURCE,
            id=deterministic_id(*pending.key) if pending.key else None,
            time=now,
        )
        for pending in events
    ]


class ReviewStore:
    """Saves cycles and reviews with their outbox and wakes the relay."""

    def __init__(
        self,
        repo: ReviewRepository,
        directory: Directory,
        *,
        notify: Callable[[], None] = lambda: None,
        clock: Clock = utcnow,
    ) -> None:
        self.repo = repo
        self.directory = directory
        self.notify = notify
        self.clock = clock

    async def insert_cycle(self, cycle: Cycle) -> None:
        await self.repo.insert_cycle(
            cycle, envelopes(cycle.tenant, cycle.id, cycle.events, self.clock())
        )
        self.notify()

    async def save_cycle(self, cycle: Cycle, *, audit: Sequence[Envelope] = ()) -> None:
        events = [*envelopes(cycle.tenant, cycle.id, cycle.events, self.clock()), *audit]
        await self.repo.save_cycle(cycle, events)
        if events:
            self.notify()

    async def insert_reviews(self, reviews: list[Review]) -> int:
        now = self.clock()
        inserted = await self.repo.insert_reviews(
            [(r, envelopes(r.tenant, r.id, r.events, now)) for r in reviews]
        )
        for review in reviews:
            review.events.clear()
        self.notify()
        return inserted

    async def save_review(self, review: Review, *, audit: Sequence[Envelope] = ()) -> None:
        """Save the review with its events, and ``audit`` records of the change (same outbox)."""
        events = [*envelopes(review.tenant, review.id, review.events, self.clock()), *audit]
        await self.repo.save_review(review, events)
        if events:
            self.notify()

    async def relationship(
        self, principal: Principal, person_id: str, *, manager_id: str | None = None
    ) -> Relationship:
        """The caller to a person: themselves, a manager up the chain (or the one the review
        was opened with), HR."""
        me = principal.person_id
        manager = me == manager_id and me != person_id
        if not manager and me != person_id:
            manager = me in await self.directory.management_chain(principal.tenant, person_id)
        return Relationship(person=me == person_id, manager=manager, hr=principal.is_hr)
