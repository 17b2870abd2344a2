"""Every query of cycles and reviews, and the mapping between their documents and the domain.

Both aggregates carry their events (``pending_events``): a change and its events are one update.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.reviews.career import CareerRecords
from services.reviews.cycle import Cycle, Population
from services.reviews.domain import Adjustment, ManagerReview, Review, SelfReview
from services.reviews.evidence import EvidenceRecords
from shared.directory import PeopleDirectory
from shared.erasure import ErasedPeople
from shared.errors import Conflict
from shared.events.envelope import Envelope
from shared.messaging.outbox import with_outbox
from shared.mongo import Document, insert_missing, update_versioned
from shared.time import as_utc

CYCLES = "review_cycles"
REVIEWS = "reviews"


def indexes() -> dict[str, list[IndexModel]]:
    return {
        CYCLES: [
            IndexModel([("tenant", ASCENDING), ("created_at", ASCENDING)]),
            IndexModel([("status", ASCENDING)]),
        ],
        REVIEWS: [
            IndexModel([("tenant", ASCENDING), ("cycle_id", ASCENDING)]),
            IndexModel([("tenant", ASCENDING), ("person_id", ASCENDING)]),
            IndexModel([("tenant", ASCENDING), ("manager_id", ASCENDING)]),
            IndexModel([("open", ASCENDING)]),
        ],
        **CareerRecords.indexes(),
        **EvidenceRecords.indexes(),
        **PeopleDirectory.indexes(),
        **ErasedPeople.indexes(),
    }


def _dates(values: dict[str, date]) -> dict[str, str]:
    return {k: v.isoformat() for k, v in values.items()}


def _from_dates(values: dict[str, str]) -> dict[str, date]:
    return {k: date.fromisoformat(v) for k, v in values.items()}


def cycle_state(cycle: Cycle) -> Document:
    return {
        "tenant": cycle.tenant,
        "id": cycle.id,
        "name": cycle.name,
        "period_start": cycle.period_start.isoformat(),
        "period_end": cycle.period_end.isoformat(),
        "population": {"kind": cycle.population.kind, "value": cycle.population.value},
        "deadlines": _dates(cycle.deadlines),
        "created_by": cycle.created_by,
        "created_at": cycle.created_at,
        "status": cycle.status,
        "review_count": cycle.review_count,
        "launched_at": cycle.launched_at,
        "calibration_closed_at": cycle.calibration_closed_at,
        "released_at": cycle.released_at,
        "reminded": list(cycle.reminded),
    }


def cycle_from_doc(doc: Document) -> Cycle:
    population = doc["population"]
    return Cycle(
        id=doc["id"],
        tenant=doc["tenant"],
        name=doc["name"],
        period_start=date.fromisoformat(doc["period_start"]),
        period_end=date.fromisoformat(doc["period_end"]),
        population=Population(population["kind"], population.get("value")),
        deadlines=_from_dates(doc["deadlines"]),
        created_by=doc["created_by"],
        created_at=as_utc(doc["created_at"]),
        status=doc["status"],
        review_count=int(doc.get("review_count", 0)),
        launched_at=as_utc(doc.get("launched_at")),
        calibration_closed_at=as_utc(doc.get("calibration_closed_at")),
        released_at=as_utc(doc.get("released_at")),
        reminded=list(doc.get("reminded", [])),
        version=int(doc.get("version", 0)),
    )


def review_state(review: Review) -> Document:
    own, boss = review.self_review, review.manager_review
    return {
        "tenant": review.tenant,
        "id": review.id,
        "cycle_id": review.cycle_id,
        "cycle_name": review.cycle_name,
        "person_id": review.person_id,
        "manager_id": review.manager_id,
        "department": review.department,
        "period_start": review.period_start.isoformat(),
        "period_end": review.period_end.isoformat(),
        "deadlines": _dates(review.deadlines),
        "created_at": review.created_at,
        "self_review": vars(own).copy() if own else None,
        "nominated_peers": list(review.nominated_peers),
        "approved_peers": review.approved_peers,
        "approved_by": review.approved_by,
        "manager_review": vars(boss).copy() if boss else None,
        "adjustments": [vars(a).copy() for a in review.adjustments],
        "final_rating": review.final_rating,
        "released_at": review.released_at,
        "acknowledged_at": review.acknowledged_at,
        "reminded": list(review.reminded),
        # what the reminder job looks at: reviews not released yet
        "open": not review.released,
    }


def review_from_doc(doc: Document) -> Review:
    own, boss = doc.get("self_review"), doc.get("manager_review")
    return Review(
        id=doc["id"],
        tenant=doc["tenant"],
        cycle_id=doc["cycle_id"],
        cycle_name=doc.get("cycle_name", ""),
        person_id=doc["person_id"],
        manager_id=doc.get("manager_id"),
        department=doc.get("department"),
        period_start=date.fromisoformat(doc["period_start"]),
        period_end=date.fromisoformat(doc["period_end"]),
        deadlines=_from_dates(doc["deadlines"]),
        created_at=as_utc(doc["created_at"]),
        self_review=SelfReview(**{**own, "submitted_at": as_utc(own["submitted_at"])})
        if own
        else None,
        nominated_peers=list(doc.get("nominated_peers", [])),
        approved_peers=doc.get("approved_peers"),
        approved_by=doc.get("approved_by"),
        manager_review=ManagerReview(**{**boss, "submitted_at": as_utc(boss["submitted_at"])})
        if boss
        else None,
        adjustments=[
            Adjustment(**{**a, "at": as_utc(a["at"])}) for a in doc.get("adjustments", [])
        ],
        released_at=as_utc(doc.get("released_at")),
        acknowledged_at=as_utc(doc.get("acknowledged_at")),
        reminded=list(doc.get("reminded", [])),
        version=int(doc.get("version", 0)),
    )


_LEAN = {"pending_events": 0}


class ReviewRepository(CareerRecords):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        super().__init__(db)
        self.cycles = db[CYCLES]
        self.reviews = db[REVIEWS]
        self.outboxes = (self.cycles, self.reviews, self.levels)

    # ------------------------------------------------------------------ cycles

    async def insert_cycle(self, cycle: Cycle, events: Sequence[Envelope]) -> None:
        doc = {"_id": f"{cycle.tenant}:{cycle.id}", **cycle_state(cycle), "version": 1}
        doc["pending_events"] = [e.to_document() for e in events]
        try:
            await self.cycles.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict(f"cycle {cycle.id} already exists") from exc
        cycle.version = 1
        cycle.events.clear()

    async def save_cycle(self, cycle: Cycle, events: Sequence[Envelope]) -> None:
        filter_ = {"_id": f"{cycle.tenant}:{cycle.id}", "tenant": cycle.tenant}
        update = with_outbox({"$set": cycle_state(cycle)}, events)
        await update_versioned(self.cycles, filter_, cycle.version, update)
        cycle.version += 1
        cycle.events.clear()

    async def cycle(self, tenant: str, cycle_id: str) -> Cycle | None:
        doc = await self.cycles.find_one({"_id": f"{tenant}:{cycle_id}"}, _LEAN)
        return cycle_from_doc(doc) if doc and doc.get("tenant") == tenant else None

    async def cycles_of(self, tenant: str, limit: int = 200) -> list[Cycle]:
        cursor = self.cycles.find({"tenant": tenant}, _LEAN).sort("created_at", -1).limit(limit)
        return [cycle_from_doc(doc) async for doc in cursor]

    async def launched_cycles(self, limit: int = 500) -> list[Cycle]:
        cursor = self.cycles.find({"status": "launched"}, _LEAN).limit(limit)
        return [cycle_from_doc(doc) async for doc in cursor]

    # ------------------------------------------------------------------ reviews

    async def insert_reviews(self, reviews: Sequence[tuple[Review, Sequence[Envelope]]]) -> int:
        """Insert the reviews not stored yet (a launch retried after a crash adds the rest)."""
        docs = [
            {
                "_id": f"{review.tenant}:{review.id}",
                **review_state(review),
                "version": 1,
                "pending_events": [e.to_document() for e in events],
            }
            for review, events in reviews
        ]
        return await insert_missing(self.reviews, docs)

    async def save_review(self, review: Review, events: Sequence[Envelope]) -> None:
        filter_ = {"_id": f"{review.tenant}:{review.id}", "tenant": review.tenant}
        update = with_outbox({"$set": review_state(review)}, events)
        await update_versioned(self.reviews, filter_, review.version, update)
        review.version += 1
        review.events.clear()

    async def review(self, tenant: str, review_id: str) -> Review | None:
        doc = await self.reviews.find_one({"_id": f"{tenant}:{review_id}"}, _LEAN)
        return review_from_doc(doc) if doc and doc.get("tenant") == tenant else None

    async def reviews_where(self, tenant: str, limit: int = 5000, **match: Any) -> list[Review]:
        query = {"tenant": tenant, **{k: v for k, v in match.items() if v is not None}}
        cursor = self.reviews.find(query, _LEAN).sort("_id", ASCENDING).limit(limit)
        return [review_from_doc(doc) async for doc in cursor]

    async def reviews_of_people(self, tenant: str, person_ids: Sequence[str]) -> list[Review]:
        query = {"tenant": tenant, "person_id": {"$in": list(person_ids)}}
        cursor = self.reviews.find(query, _LEAN).sort("_id", ASCENDING).limit(5000)
        return [review_from_doc(doc) async for doc in cursor]

    async def awaiting_reminder(
        self, cycle: Cycle, steps: Sequence[str], limit: int = 5000
    ) -> list[str]:
        """Ids of the cycle's open reviews that may owe a reminder for one of ``steps``: the
        step not done and its reminder not recorded (the aggregate decides; this only keeps
        a round from loading every review of a big cycle again and again)."""
        nobody_nominated = {"nominated_peers.0": {"$exists": False}}
        someone_nominated = {"nominated_peers.0": {"$exists": True}}
        waiting: dict[str, list[Document]] = {
            "self_review": [{"self_review": None, "reminded": {"$ne": "self_review:person"}}],
            "peer_feedback": [
                {
                    "approved_peers": None,
                    **nobody_nominated,
                    "reminded": {"$ne": "peer_feedback:person"},
                },
                {
                    "approved_peers": None,
                    **someone_nominated,
                    "reminded": {"$ne": "peer_feedback:manager"},
                },
            ],
            "manager_review": [
                {"manager_review": None, "reminded": {"$ne": "manager_review:manager"}}
            ],
        }
        clauses = [clause for step in steps for clause in waiting.get(step, [])]
        if not clauses:
            return []
        query = {"tenant": cycle.tenant, "cycle_id": cycle.id, "open": True, "$or": clauses}
        cursor = self.reviews.find(query, {"id": 1}).limit(limit)
        return [doc["id"] async for doc in cursor]

    async def latest_assessments(
        self, tenant: str, person_id: str, *, released_only: bool
    ) -> tuple[dict[str, int], dict[str, int]]:
        """The latest self-assessment and manager assessment of a person (skill ratings)."""
        own: tuple[datetime, dict[str, int]] | None = None
        boss: tuple[datetime, dict[str, int]] | None = None
        query: Document = {"tenant": tenant, "person_id": person_id}
        async for doc in self.reviews.find(
            query, {"self_review": 1, "manager_review": 1, "released_at": 1}
        ):
            if (s := doc.get("self_review")) and (own is None or s["submitted_at"] > own[0]):
                own = (s["submitted_at"], s["ratings"])
            m = doc.get("manager_review")
            visible = not released_only or doc.get("released_at") is not None
            if m and visible and (boss is None or m["submitted_at"] > boss[0]):
                boss = (m["submitted_at"], m["ratings"])
        return (own[1] if own else {}), (boss[1] if boss else {})
