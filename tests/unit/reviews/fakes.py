"""In-memory stand-ins for the reviews repositories and the people directory (unit tests only).

The fake repository stores the same documents the real one writes (``cycle_state``,
``review_state``), so a round trip through it also tests the mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.reviews.career import CareerLevel
from services.reviews.cycle import Cycle
from services.reviews.domain import Review
from services.reviews.ladders import BUILT_IN_LADDER, Ladder
from services.reviews.repository import cycle_from_doc, cycle_state, review_from_doc, review_state
from shared.directory import Person
from shared.errors import VersionConflict
from shared.events.envelope import Envelope


@dataclass
class FakeDirectory:
    people: dict[tuple[str, str], Person] = field(default_factory=dict)

    def add(
        self, tenant: str, pid: str, manager: str | None = None, dept: str | None = None
    ) -> None:
        self.people[(tenant, pid)] = Person(pid, tenant, pid, manager_id=manager, department=dept)

    async def get(self, tenant: str, person_id: str) -> Person | None:
        return self.people.get((tenant, person_id))

    async def many(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Person]:
        return {p: self.people[(tenant, p)] for p in person_ids if (tenant, p) in self.people}

    async def management_chain(self, tenant: str, person_id: str) -> list[str]:
        chain: list[str] = []
        person = self.people.get((tenant, person_id))
        while person and person.manager_id and person.manager_id not in chain:
            chain.append(person.manager_id)
            person = self.people.get((tenant, person.manager_id))
        return chain

    async def members(
        self, tenant: str, *, department: str | None = None, limit: int = 5000
    ) -> list[Person]:
        found = [
            p
            for (t, _), p in sorted(self.people.items())
            if t == tenant and p.active and (department is None or p.department == department)
        ]
        return found[:limit]


@dataclass
class FakeReviews:
    cycles: dict[str, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    published: list[Envelope] = field(default_factory=list)
    levels: dict[str, CareerLevel] = field(default_factory=dict)

    async def insert_cycle(self, cycle: Cycle, events: Sequence[Envelope]) -> None:
        self.cycles[cycle.id] = {**cycle_state(cycle), "version": 1}
        self.published.extend(events)
        cycle.version = 1
        cycle.events.clear()

    async def save_cycle(self, cycle: Cycle, events: Sequence[Envelope]) -> None:
        if self.cycles[cycle.id]["version"] != cycle.version:
            raise VersionConflict("lost")
        cycle.version += 1
        self.cycles[cycle.id] = {**cycle_state(cycle), "version": cycle.version}
        self.published.extend(events)
        cycle.events.clear()

    async def cycle(self, tenant: str, cycle_id: str) -> Cycle | None:
        doc = self.cycles.get(cycle_id)
        return cycle_from_doc(doc) if doc and doc["tenant"] == tenant else None

    async def launched_cycles(self, limit: int = 500) -> list[Cycle]:
        return [cycle_from_doc(d) for d in self.cycles.values() if d["status"] == "launched"]

    async def insert_reviews(self, reviews: Sequence[tuple[Review, Sequence[Envelope]]]) -> int:
        inserted = 0
        for review, events in reviews:
            if review.id not in self.reviews:
                self.reviews[review.id] = {**review_state(review), "version": 1}
                self.published.extend(events)
                inserted += 1
        return inserted

    async def save_review(self, review: Review, events: Sequence[Envelope]) -> None:
        if self.reviews[review.id]["version"] != review.version:
            raise VersionConflict("lost")
        review.version += 1
        self.reviews[review.id] = {**review_state(review), "version": review.version}
        self.published.extend(events)
        review.events.clear()

    async def review(self, tenant: str, review_id: str) -> Review | None:
        doc = self.reviews.get(review_id)
        return review_from_doc(doc) if doc and doc["tenant"] == tenant else None

    async def reviews_where(self, tenant: str, limit: int = 5000, **match: Any) -> list[Review]:
        return [
            review_from_doc(d)
            for d in self.reviews.values()
            if d["tenant"] == tenant and all(v is None or d[k] == v for k, v in match.items())
        ]

    async def awaiting_reminder(
        self, cycle: Cycle, steps: Sequence[str], limit: int = 5000
    ) -> list[str]:
        # every open review when a step's window is open: the aggregate decides
        if not steps:
            return []
        return [d["id"] for d in self.reviews.values() if d["cycle_id"] == cycle.id and d["open"]]

    async def level_of(self, tenant: str, person_id: str) -> CareerLevel | None:
        return self.levels.get(person_id)

    async def ladder(self, tenant: str, ladder_id: str) -> Ladder | None:
        return BUILT_IN_LADDER if ladder_id == BUILT_IN_LADDER.id else None

    def of_type(self, name: str) -> list[Envelope]:
        return [e for e in self.published if e.type == f"northstar.review.{name}.v1"]
