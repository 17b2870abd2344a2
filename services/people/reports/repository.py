"""The reports' read model in the store: one document per fact, keyed by the id of the object
the event is about (a goal, a check-in, a request, an answer), so a redelivered event rewrites
the same document and never counts twice. Reports aggregate at query time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.people.reports.aggregate import (
    AnswerFact,
    CheckInFact,
    GoalFact,
    Member,
    RatingFact,
    RequestFact,
)
from services.people.repository import LIVE, PEOPLE
from shared.mongo import Document

GOALS = "report_goals"
CHECK_INS = "report_check_ins"
REQUESTS = "report_feedback_requests"
ANSWERS = "report_feedback_answers"
RATINGS = "report_ratings"

REPORT_INDEXES: dict[str, list[IndexModel]] = {
    GOALS: [IndexModel([("tenant", ASCENDING), ("owner_id", ASCENDING)])],
    CHECK_INS: [IndexModel([("tenant", ASCENDING), ("at", ASCENDING)])],
    REQUESTS: [IndexModel([("tenant", ASCENDING), ("asked_at", ASCENDING)])],
    ANSWERS: [IndexModel([("tenant", ASCENDING), ("request_id", ASCENDING)])],
    RATINGS: [IndexModel([("tenant", ASCENDING), ("at", ASCENDING)])],
}


def key(tenant: str, object_id: str) -> str:
    """A fact's ``_id``: ids are unique within a tenant only."""
    return f"{tenant}/{object_id}"


def goal_writes(
    tenant: str,
    goal_id: str,
    state: Document,
    at: datetime,
    first_at: datetime,
    achieved: bool,
) -> list[UpdateOne]:
    """The goal's fact document exists with its earliest times, then takes the state unless a
    newer event's state is already there."""
    first: Document = {"created_at": first_at}
    if achieved:
        first["achieved_at"] = first_at
    _id = key(tenant, goal_id)
    return [
        UpdateOne(
            {"_id": _id},
            {"$setOnInsert": {"tenant": tenant, "goal_id": goal_id}, "$min": first},
            upsert=True,
        ),
        state_write(_id, state, at, first),
    ]


def state_write(_id: str, state: Document, at: datetime, first: Document) -> UpdateOne:
    """A stored fact takes the state unless a newer event's is there, and keeps its earliest
    times (``first``)."""
    return UpdateOne(
        {"_id": _id, "$or": [{"at": {"$exists": False}}, {"at": {"$lte": at}}]},
        {"$set": {**state, "at": at}, "$min": first},
    )


def _utc(value: datetime | None) -> datetime | None:
    # the store gives naive UTC back
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _at(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class ReportStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.people: AsyncCollection[Document] = db[PEOPLE]
        self.goals: AsyncCollection[Document] = db[GOALS]
        self.check_ins: AsyncCollection[Document] = db[CHECK_INS]
        self.requests: AsyncCollection[Document] = db[REQUESTS]
        self.answers: AsyncCollection[Document] = db[ANSWERS]
        self.ratings: AsyncCollection[Document] = db[RATINGS]

    # ------------------------------------------------------------ writes (the projection)

    async def is_erased(self, tenant: str, person_id: str) -> bool:
        doc = await self.people.find_one(
            {"_id": person_id, "tenant": tenant, "erased": True}, {"_id": 1}
        )
        return doc is not None

    async def erased_among(self, tenant: str, person_ids: Iterable[str]) -> set[str]:
        """Which of these people are erased, in one query."""
        found = self.people.find(
            {"_id": {"$in": sorted(set(person_ids))}, "tenant": tenant, "erased": True}, {"_id": 1}
        )
        return {doc["_id"] async for doc in found}

    async def put_goal(
        self, tenant: str, goal_id: str, state: Document, at: datetime, achieved: bool
    ) -> None:
        """The goal's state as of the event at ``at``; an older event never overwrites a newer
        one's state. Its creation (and achievement) time is the earliest event telling it."""
        await self.goals.bulk_write(goal_writes(tenant, goal_id, state, at, at, achieved))

    async def put_goals(
        self, tenant: str, goals: Iterable[tuple[str, Document, datetime, datetime]]
    ) -> None:
        """``put_goal`` of several goals (id, latest state, its time, earliest event time): one
        write a goal whose fact is stored and older (a goal's progress, nearly always), the
        upsert and the guarded ``$set`` of ``goal_writes`` for all of them otherwise."""
        goals = list(goals)
        if not goals:
            return
        moved = await self.goals.bulk_write(
            [
                state_write(key(tenant, goal_id), state, at, {"created_at": first_at})
                for goal_id, state, at, first_at in goals
            ],
            ordered=False,
        )
        if moved.matched_count < len(goals):
            # a fact not stored yet, or one newer than its event: those writes are idempotent,
            # so they are made for the whole run rather than finding which goal it was
            writes = [
                write
                for goal_id, state, at, first_at in goals
                for write in goal_writes(tenant, goal_id, state, at, first_at, False)
            ]
            await self.goals.bulk_write(writes)  # ordered: each goal's upsert before its $set

    async def put_check_in(
        self, tenant: str, check_in_id: str, owner_id: str, goal_id: str, at: datetime
    ) -> None:
        await self.check_ins.update_one(
            {"_id": key(tenant, check_in_id)},
            {"$set": {"tenant": tenant, "owner_id": owner_id, "goal_id": goal_id, "at": at}},
            upsert=True,
        )

    async def put_request(
        self, tenant: str, request_id: str, subject_id: str, slot: str, at: datetime
    ) -> None:
        """One reviewer asked (``slot``: the event that asked them, never their id)."""
        await self.requests.update_one(
            {"_id": key(tenant, request_id)},
            {
                "$setOnInsert": {"tenant": tenant, "request_id": request_id},
                "$set": {"subject_id": subject_id},
                "$min": {"asked_at": at},
                "$addToSet": {"slots": slot},
            },
            upsert=True,
        )

    async def put_answer(
        self, tenant: str, answer_id: str, request_id: str, subject_id: str, kind: str, at: datetime
    ) -> None:
        await self.answers.update_one(
            {"_id": key(tenant, answer_id)},
            {
                "$set": {
                    "tenant": tenant,
                    "request_id": request_id,
                    "subject_id": subject_id,
                    "kind": kind,
                    "at": at,
                }
            },
            upsert=True,
        )

    async def put_ratings(
        self, tenant: str, rating_id: str, subject_id: str, ratings: dict[str, int], at: datetime
    ) -> None:
        """One answer's ratings, without its author (skills as a list: an id may hold a dot)."""
        pairs = [{"skill": skill, "value": value} for skill, value in sorted(ratings.items())]
        await self.ratings.update_one(
            {"_id": key(tenant, rating_id)},
            {"$set": {"tenant": tenant, "subject_id": subject_id, "ratings": pairs, "at": at}},
            upsert=True,
        )

    async def forget(self, tenant: str, person_id: str) -> int:
        """Delete every fact about a person (GDPR erasure); idempotent."""
        deleted = 0
        about = (
            (self.goals, "owner_id"),
            (self.check_ins, "owner_id"),
            (self.requests, "subject_id"),
            (self.answers, "subject_id"),
            (self.ratings, "subject_id"),
        )
        for collection, field in about:
            result = await collection.delete_many({"tenant": tenant, field: person_id})
            deleted += result.deleted_count
        return deleted

    # ------------------------------------------------------------ reads (the reports)

    async def members(self, tenant: str) -> list[Member]:
        """The tenant's live, active people."""
        found = self.people.find(
            {"tenant": tenant, "active": True, **LIVE},
            {"display_name": 1, "user_name": 1, "department": 1, "manager_id": 1},
        )
        return [
            Member(
                id=doc["_id"],
                name=doc.get("display_name") or doc.get("user_name") or doc["_id"],
                department=doc.get("department"),
                manager_id=doc.get("manager_id"),
            )
            async for doc in found
        ]

    async def goal_facts(self, tenant: str) -> list[GoalFact]:
        found = self.goals.find(
            {"tenant": tenant, "status": {"$in": ["active", "achieved"]}}, {"tenant": 0}
        )
        return [
            GoalFact(
                goal_id=doc["goal_id"],
                owner_id=doc["owner_id"],
                status=doc["status"],
                at_risk=bool(doc.get("at_risk")),
                created_at=_at(doc["created_at"]),
                last_activity_at=_utc(doc.get("last_activity_at")),
                achieved_at=_utc(doc.get("achieved_at")),
            )
            async for doc in found
        ]

    async def check_in_facts(
        self, tenant: str, start: datetime, end: datetime
    ) -> list[CheckInFact]:
        found = self.check_ins.find({"tenant": tenant, "at": {"$gte": start, "$lt": end}})
        return [CheckInFact(doc["_id"], doc["owner_id"], _at(doc["at"])) async for doc in found]

    async def request_facts(
        self, tenant: str, start: datetime, end: datetime
    ) -> tuple[list[RequestFact], list[AnswerFact]]:
        found = self.requests.find({"tenant": tenant, "asked_at": {"$gte": start, "$lt": end}})
        requests = [
            RequestFact(
                doc["request_id"], doc["subject_id"], _at(doc["asked_at"]), len(doc["slots"])
            )
            async for doc in found
        ]
        answers: list[AnswerFact] = []
        ids = [r.request_id for r in requests]
        for i in range(0, len(ids), 500):
            batch = self.answers.find({"tenant": tenant, "request_id": {"$in": ids[i : i + 500]}})
            answers += [
                AnswerFact(doc["request_id"], doc["kind"], _at(doc["at"])) async for doc in batch
            ]
        return requests, answers

    async def rating_facts(self, tenant: str, start: datetime, end: datetime) -> list[RatingFact]:
        found = self.ratings.find({"tenant": tenant, "at": {"$gte": start, "$lt": end}})
        return [
            RatingFact(
                doc["subject_id"],
                _at(doc["at"]),
                {pair["skill"]: int(pair["value"]) for pair in doc["ratings"]},
            )
            async for doc in found
        ]
