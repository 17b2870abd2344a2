"""Use cases of review cycles and reviews: load, call the aggregate, save with its events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.reviews.access import Relationship
from services.reviews.common import ReviewStore
from services.reviews.cycle import Cycle, Population
from services.reviews.domain import Review
from services.reviews.evidence import EvidenceRecords
from services.reviews.growth import CareerService
from services.reviews.packet import assemble, bounds
from shared.audit import Actor, audit_event
from shared.auth import Principal
from shared.directory import Person
from shared.errors import Conflict, Forbidden, NotFound, RuleNotMet, VersionConflict
from shared.events.envelope import deterministic_id

SAVE_ATTEMPTS = 5


@dataclass(frozen=True)
class Policy:
    rating_scale: int = 5
    anonymous_peer_minimum: int = 3
    max_peers: int = 10
    max_population: int = 5000
    reminder_lead_days: int = 3


@dataclass(frozen=True)
class NewCycle:
    name: str
    period_start: date
    period_end: date
    population: Population
    deadlines: dict[str, date]


class ReviewService:
    def __init__(
        self, store: ReviewStore, career: CareerService, evidence: EvidenceRecords, policy: Policy
    ) -> None:
        self.store = store
        self.repo = store.repo
        self.directory = store.directory
        self.career = career
        self.evidence = evidence
        self.policy = policy

    # ------------------------------------------------------------------ cycles (HR)

    async def create_cycle(self, principal: Principal, new: NewCycle) -> Cycle:
        cycle = Cycle.create(
            id=uuid.uuid4().hex,
            tenant=principal.tenant,
            name=new.name,
            period_start=new.period_start,
            period_end=new.period_end,
            population=new.population,
            deadlines=new.deadlines,
            created_by=principal.person_id,
            created_at=self.store.clock(),
        )
        await self.store.insert_cycle(cycle)
        return cycle

    async def cycles(self, tenant: str) -> list[Cycle]:
        return await self.repo.cycles_of(tenant)

    async def cycle(self, tenant: str, cycle_id: str) -> Cycle:
        cycle = await self.repo.cycle(tenant, cycle_id)
        if cycle is None:
            raise NotFound(f"review cycle {cycle_id} not found")
        return cycle

    async def population(self, cycle: Cycle) -> list[Person]:
        tenant, kind, limit = cycle.tenant, cycle.population.kind, self.policy.max_population
        if kind == "group":
            members = await self.evidence.group_members(tenant, cycle.population.value or "")
            if members is None:
                raise Conflict(f"group {cycle.population.value} is not known here")
            found = await self.directory.many(tenant, members)
            people = [found[m] for m in sorted(found) if found[m].active]
        else:
            department = cycle.population.value if kind == "department" else None
            people = await self.directory.members(tenant, department=department, limit=limit + 1)
        if len(people) > limit:
            raise Conflict(f"a cycle reviews at most {limit} people")
        return people

    async def launch(self, principal: Principal, cycle_id: str) -> Cycle:
        """A review per person of the population; a retry after a crash adds the missing ones."""
        cycle = await self.cycle(principal.tenant, cycle_id)
        people = await self.population(cycle)
        now = self.store.clock()
        cycle.launch(len(people), principal.person_id, now)
        reviews = [
            Review.assign(
                cycle,
                id=deterministic_id("review", cycle.tenant, cycle.id, person.id),
                person_id=person.id,
                manager_id=person.manager_id,
                department=person.department,
                now=now,
            )
            for person in people
        ]
        await self.store.insert_reviews(reviews)
        await self.store.save_cycle(cycle)
        return cycle

    async def close_calibration(self, principal: Principal, cycle_id: str) -> Cycle:
        cycle = await self.cycle(principal.tenant, cycle_id)
        now = self.store.clock()
        closed_before = cycle.calibration_closed_at
        cycle.close_calibration(now)
        records = (
            []
            if closed_before is not None  # closing again changes nothing: no new record
            else [
                audit_event(
                    tenant=cycle.tenant,
                    actor=Actor.of(principal),
                    action="review_cycle.calibration_closed",
                    object_type="review_cycle",
                    object_id=cycle.id,
                    service="reviews",
                    before={"calibration_closed_at": None},
                    after={"calibration_closed_at": now},
                    at=now,
                )
            ]
        )
        await self.store.save_cycle(cycle, audit=records)
        return cycle

    async def release(self, principal: Principal, cycle_id: str) -> dict[str, Any]:
        """Release every review with a manager review; the others stay with their manager."""
        cycle = await self.cycle(principal.tenant, cycle_id)
        now = self.store.clock()
        cycle.release(now)
        released = waiting = 0
        for review in await self.repo.reviews_where(cycle.tenant, cycle_id=cycle.id):
            if await self._change(review, lambda r: r.release(now)):
                released += 1
            elif not review.released:
                waiting += 1
        await self.store.save_cycle(cycle)
        return {"released": released, "without_manager_review": waiting}

    async def progress(self, cycle: Cycle) -> dict[str, int]:
        """How many reviews of the cycle have done each step."""
        reviews = await self.repo.reviews_where(cycle.tenant, cycle_id=cycle.id)
        return {
            "total": len(reviews),
            "self_review": sum(r.step_done("self_review") for r in reviews),
            "peer_feedback": sum(r.step_done("peer_feedback") for r in reviews),
            "manager_review": sum(r.step_done("manager_review") for r in reviews),
            "released": sum(r.released for r in reviews),
            "acknowledged": sum(r.acknowledged_at is not None for r in reviews),
        }

    async def cycle_reviews(
        self, principal: Principal, cycle_id: str
    ) -> tuple[Cycle, list[Review]]:
        cycle = await self.cycle(principal.tenant, cycle_id)
        return cycle, await self.repo.reviews_where(cycle.tenant, cycle_id=cycle.id)

    # ------------------------------------------------------------------ reviews

    async def review(self, principal: Principal, review_id: str) -> tuple[Review, Relationship]:
        review = await self.repo.review(principal.tenant, review_id)
        if review is None:
            raise NotFound(f"review {review_id} not found")
        rel = await self.store.relationship(
            principal, review.person_id, manager_id=review.manager_id
        )
        if not rel.reads:
            raise NotFound(f"review {review_id} not found")
        return review, rel

    async def reviews_for(
        self, principal: Principal, cycle_id: str | None
    ) -> list[tuple[Review, Relationship]]:
        """My reviews and those of the people I manage (HR: a whole cycle)."""
        tenant, me = principal.tenant, principal.person_id
        if principal.is_hr and cycle_id:
            found = await self.repo.reviews_where(tenant, cycle_id=cycle_id)
        else:
            found = await self.repo.reviews_where(tenant, person_id=me, cycle_id=cycle_id)
            found += await self.repo.reviews_where(tenant, manager_id=me, cycle_id=cycle_id)
        out = []
        for review in {r.id: r for r in found}.values():
            rel = Relationship(
                person=review.person_id == me,
                manager=review.manager_id == me and review.person_id != me,
                hr=principal.is_hr,
            )
            out.append((review, rel))
        return out

    async def packet(self, principal: Principal, review_id: str) -> dict[str, Any]:
        review, _ = await self.review(principal, review_id)
        _, end = bounds(review.period_start, review.period_end)
        goals = await self.evidence.goals_of(review.tenant, review.person_id)
        facts = await self.evidence.facts_of(review.tenant, review.person_id, until=end)
        return {
            "review_id": review.id,
            "person_id": review.person_id,
            **assemble(goals, facts, review.period_start, review.period_end),
        }

    async def submit_self(
        self,
        principal: Principal,
        review_id: str,
        *,
        ratings: dict[str, int],
        goal_comments: dict[str, str],
        comments: str | None,
    ) -> Review:
        review, rel = await self.review(principal, review_id)
        if not rel.person:
            raise Forbidden("only the person writes their self review")
        skills = await self.career.skills_of(review.tenant, review.person_id)
        now = self.store.clock()
        return await self._edit(
            review,
            lambda r: r.submit_self(
                ratings=ratings,
                goal_comments=goal_comments,
                comments=comments,
                skills=skills,
                now=now,
            ),
        )

    async def nominate_peers(
        self, principal: Principal, review_id: str, peer_ids: list[str]
    ) -> Review:
        review, rel = await self.review(principal, review_id)
        if not rel.person:
            raise Forbidden("only the person nominates their peers")
        known = await self.directory.many(review.tenant, peer_ids)
        unknown = [p for p in peer_ids if p not in known or not known[p].active]
        if unknown:
            raise RuleNotMet(f"peers not found or inactive: {', '.join(unknown)}", peers=unknown)
        return await self._edit(
            review, lambda r: r.nominate_peers(peer_ids, max_peers=self.policy.max_peers)
        )

    async def approve_peers(
        self, principal: Principal, review_id: str, approved: list[str] | None
    ) -> Review:
        review, rel = await self.review(principal, review_id)
        if not rel.manager:
            raise Forbidden("the person's manager approves their peers")
        skills = await self.career.skills_of(review.tenant, review.person_id)
        return await self._edit(
            review,
            lambda r: r.approve_peers(
                approved,
                by=principal.person_id,
                skills=skills,
                anonymous_minimum=self.policy.anonymous_peer_minimum,
            ),
        )

    async def submit_manager(
        self,
        principal: Principal,
        review_id: str,
        *,
        ratings: dict[str, int],
        overall_rating: int,
        summary: str,
    ) -> Review:
        review, rel = await self.review(principal, review_id)
        if not rel.manager:
            raise Forbidden("the person's manager writes the manager review")
        skills = await self.career.skills_of(review.tenant, review.person_id)
        now = self.store.clock()
        return await self._edit(
            review,
            lambda r: r.submit_manager(
                ratings=ratings,
                overall_rating=overall_rating,
                summary=summary,
                by=principal.person_id,
                skills=skills,
                scale=self.policy.rating_scale,
                now=now,
            ),
        )

    async def calibrate(
        self, principal: Principal, review_id: str, rating: int, reason: str
    ) -> Review:
        review, rel = await self.review(principal, review_id)
        if not rel.hr:
            raise Forbidden("HR calibrates reviews")
        now = self.store.clock()
        before = review.final_rating
        review.calibrate(
            rating=rating,
            reason=reason,
            by=principal.person_id,
            scale=self.policy.rating_scale,
            now=now,
        )
        # a calibration is always someone else's change to the review (HR's): audited
        record = audit_event(
            tenant=review.tenant,
            actor=Actor.of(principal),
            action="review.calibrated",
            object_type="review",
            object_id=review.id,
            service="reviews",
            before={"final_rating": before},
            after={"final_rating": review.final_rating},
            details={"reason": reason, "person_id": review.person_id, "cycle_id": review.cycle_id},
            at=now,
        )
        await self.store.save_review(review, audit=[record])
        return review

    async def acknowledge(self, principal: Principal, review_id: str) -> Review:
        review, rel = await self.review(principal, review_id)
        if not rel.person:
            raise Forbidden("only the person acknowledges their review")
        now = self.store.clock()
        return await self._edit(review, lambda r: r.acknowledge(now))

    # ------------------------------------------------------------------ reminders

    async def remind(self, today: date) -> int:
        """Record each due reminder once (the scheduler's round)."""
        lead = timedelta(days=self.policy.reminder_lead_days)
        sent = 0
        for cycle in await self.repo.launched_cycles():
            if cycle.remind(today, lead):
                sent += len(cycle.events)
                await self.store.save_cycle(cycle)
            steps = [
                step
                for step in ("self_review", "peer_feedback", "manager_review")
                if cycle.deadlines[step] - lead <= today <= cycle.deadlines[step]
            ]
            for review_id in await self.repo.awaiting_reminder(cycle, steps):
                review = await self.repo.review(cycle.tenant, review_id)
                if review is not None:
                    sent += await self._change(review, lambda r: r.remind(today, lead))
        return sent

    # ------------------------------------------------------------------ internals

    async def _edit(self, review: Review, change: Callable[[Review], object]) -> Review:
        change(review)
        await self.store.save_review(review)
        return review

    async def _change(self, review: Review, change: Callable[[Review], Any]) -> Any:
        """Apply a change made by the system (release, reminders), reloading on a lost race."""
        for attempt in range(SAVE_ATTEMPTS):
            result = change(review)
            if not review.events:
                return result
            try:
                await self.store.save_review(review)
                return result
            except VersionConflict:
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
                reloaded = await self.repo.review(review.tenant, review.id)
                if reloaded is None:
                    return result
                review = reloaded
        return None
