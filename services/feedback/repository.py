"""Every Mongo query of the feedback service, and the document <-> domain mapping."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.feedback.domain import FeedbackRequest, Response, Reviewer
from services.feedback.praise import Praise
from shared.leases import acquire_lease, release_lease
from shared.messaging.outbox import outbox_push, with_outbox
from shared.mongo import Document, update_versioned
from shared.time import as_utc

REQUESTS = "feedback_requests"
PRAISE = "feedback_given"
SHARING = "feedback_sharing"
LEASES = "leases"


def indexes() -> dict[str, list[IndexModel]]:
    return {
        REQUESTS: [
            IndexModel([("tenant", ASCENDING), ("id", ASCENDING)], unique=True),
            IndexModel([("tenant", ASCENDING), ("reviewer_ids", ASCENDING)]),
            IndexModel([("tenant", ASCENDING), ("subject_id", ASCENDING)]),
            IndexModel([("tenant", ASCENDING), ("requester_id", ASCENDING)]),
            # the expiry job looks across tenants
            IndexModel([("status", ASCENDING), ("expires_at", ASCENDING), ("tenant", ASCENDING)]),
            IndexModel(
                [("status", ASCENDING), ("next_reminder_at", ASCENDING), ("tenant", ASCENDING)]
            ),
        ],
        LEASES: [IndexModel([("tenant", ASCENDING), ("expires_at", ASCENDING)])],
        PRAISE: [
            IndexModel([("tenant", ASCENDING), ("id", ASCENDING)], unique=True),
            IndexModel([("tenant", ASCENDING), ("to_id", ASCENDING), ("created_at", DESCENDING)]),
        ],
        SHARING: [IndexModel([("tenant", ASCENDING), ("person_id", ASCENDING)], unique=True)],
    }


def _key(tenant: str, entity_id: str) -> str:
    return f"{tenant}:{entity_id}"


class FeedbackRequestRepository(Protocol):
    async def insert(self, request: FeedbackRequest) -> bool: ...
    async def get(self, tenant: str, request_id: str) -> FeedbackRequest | None: ...
    async def save(self, request: FeedbackRequest) -> None: ...
    async def assigned_to(self, tenant: str, person_id: str) -> list[FeedbackRequest]: ...
    async def about(self, tenant: str, subject_id: str) -> list[FeedbackRequest]: ...
    async def requested_by(self, tenant: str, person_id: str) -> list[FeedbackRequest]: ...
    async def overdue(self, now: datetime, limit: int) -> list[FeedbackRequest]: ...
    async def reminders_due(self, now: datetime, limit: int) -> list[FeedbackRequest]: ...


class PraiseRepository(Protocol):
    async def insert(self, praise: Praise) -> None: ...
    async def to_person(self, tenant: str, person_id: str) -> list[Praise]: ...


class SharingPreferenceRepository(Protocol):
    async def shares_with_mentors(self, tenant: str, person_id: str) -> bool: ...
    async def set_shares_with_mentors(self, tenant: str, person_id: str, value: bool) -> None: ...


# ---------------------------------------------------------------------- requests


def _state(request: FeedbackRequest) -> Document:
    """The mutable state written on every save (the version guards the whole of it)."""
    return {
        "reviewers": [
            {"person_id": r.person_id, "relationship": r.relationship, "status": r.status}
            for r in request.reviewers
        ],
        "reviewer_ids": [r.person_id for r in request.reviewers],
        "open_reviewer_ids": request.open_reviewer_ids,
        "status": request.status,
        "answer_keys": request.answer_keys,
        "responses": [
            {
                "id": r.id,
                "ratings": r.ratings,
                "comments": r.comments,
                "answers": r.answers,
                "submitted_on": r.submitted_on.isoformat(),
                "reviewer_id": r.reviewer_id,
                "relationship": r.relationship,
            }
            for r in request.responses
        ],
        "released_on": request.released_on.isoformat() if request.released_on else None,
        "reminded": request.reminded,
        "next_reminder_at": request.next_reminder_at,
    }


def _request_document(request: FeedbackRequest) -> Document:
    return {
        "_id": _key(request.tenant, request.id),
        "tenant": request.tenant,
        "id": request.id,
        "kind": request.kind,
        "subject_id": request.subject_id,
        "requester_id": request.requester_id,
        "skills": request.skills,
        "questions": request.questions,
        "due_date": request.due_date.isoformat(),
        "expires_at": request.expires_at,
        "anonymous": request.anonymous,
        "min_responses": request.min_responses,
        "goal_id": request.goal_id,
        "created_at": request.created_at,
        "version": 1,
        **_state(request),
    }


def _request(doc: Document) -> FeedbackRequest:
    released = doc.get("released_on")
    return FeedbackRequest(
        id=doc["id"],
        tenant=doc["tenant"],
        subject_id=doc["subject_id"],
        requester_id=doc["requester_id"],
        reviewers=[
            Reviewer(person_id=r["person_id"], relationship=r["relationship"], status=r["status"])
            for r in doc["reviewers"]
        ],
        skills=list(doc["skills"]),
        questions=list(doc["questions"]),
        due_date=date.fromisoformat(doc["due_date"]),
        anonymous=doc["anonymous"],
        min_responses=doc["min_responses"],
        created_at=as_utc(doc["created_at"]),
        kind=doc.get("kind", "requested"),
        goal_id=doc.get("goal_id"),
        status=doc["status"],
        answer_keys=list(doc.get("answer_keys", [])),
        responses=[
            Response(
                id=r["id"],
                ratings=dict(r["ratings"]),
                comments=r.get("comments"),
                answers=list(r.get("answers", [])),
                submitted_on=date.fromisoformat(r["submitted_on"]),
                reviewer_id=r.get("reviewer_id"),
                relationship=r.get("relationship"),
            )
            for r in doc.get("responses", [])
        ],
        released_on=date.fromisoformat(released) if released else None,
        reminded=list(doc.get("reminded", [])),
        version=doc["version"],
    )


class MongoRequests:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: Any = db[REQUESTS]
        self.outboxes = (self.collection,)  # requests carry their events

    async def insert(self, request: FeedbackRequest) -> bool:
        """Store a new request with its events; False when that id already exists."""
        doc = _request_document(request)
        doc["pending_events"] = outbox_push(request.events)["pending_events"]["$each"]
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        request.version = 1
        request.events.clear()
        return True

    async def get(self, tenant: str, request_id: str) -> FeedbackRequest | None:
        doc = await self.collection.find_one({"_id": _key(tenant, request_id), "tenant": tenant})
        return _request(doc) if doc else None

    async def save(self, request: FeedbackRequest) -> None:
        """Write the new state and its events in one update, if nobody changed it meanwhile."""
        await update_versioned(
            self.collection,
            {"_id": _key(request.tenant, request.id), "tenant": request.tenant},
            request.version,
            with_outbox({"$set": _state(request)}, request.events),
        )
        request.version += 1
        request.events.clear()

    async def _find(self, filter_: Document) -> list[FeedbackRequest]:
        cursor = self.collection.find(filter_, {"pending_events": 0}).sort("created_at", -1)
        return [_request(doc) async for doc in cursor.limit(500)]

    async def assigned_to(self, tenant: str, person_id: str) -> list[FeedbackRequest]:
        return await self._find({"tenant": tenant, "reviewer_ids": person_id})

    async def about(self, tenant: str, subject_id: str) -> list[FeedbackRequest]:
        return await self._find({"tenant": tenant, "subject_id": subject_id})

    async def requested_by(self, tenant: str, person_id: str) -> list[FeedbackRequest]:
        return await self._find({"tenant": tenant, "requester_id": person_id})

    async def overdue(self, now: datetime, limit: int) -> list[FeedbackRequest]:
        cursor = self.collection.find(
            {"status": "open", "expires_at": {"$lte": now}}, {"pending_events": 0}
        )
        return [_request(doc) async for doc in cursor.limit(limit)]

    async def reminders_due(self, now: datetime, limit: int) -> list[FeedbackRequest]:
        cursor = self.collection.find(
            {"status": "open", "next_reminder_at": {"$lte": now}}, {"pending_events": 0}
        )
        return [_request(doc) async for doc in cursor.limit(limit)]


class MongoLeases:
    """The lease that keeps one replica at the request scheduler (``shared.leases``)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[LEASES]

    async def acquire(self, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
        return await acquire_lease(self.collection, name, holder, now, ttl_s)

    async def release(self, name: str, holder: str) -> None:
        await release_lease(self.collection, name, holder)


# ---------------------------------------------------------------------- praise


class MongoPraise:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: Any = db[PRAISE]
        self.outboxes = (self.collection,)  # praise carries its events

    async def insert(self, praise: Praise) -> None:
        await self.collection.insert_one(
            {
                "_id": _key(praise.tenant, praise.id),
                "tenant": praise.tenant,
                "id": praise.id,
                "from_id": praise.from_id,
                "to_id": praise.to_id,
                "skills": praise.skills,
                "ratings": praise.ratings,
                "comment": praise.comment,
                "visibility": praise.visibility,
                "created_at": praise.created_at,
                "pending_events": [e.to_document() for e in praise.events],
            }
        )
        praise.events.clear()

    async def to_person(self, tenant: str, person_id: str) -> list[Praise]:
        cursor = self.collection.find(
            {"tenant": tenant, "to_id": person_id}, {"pending_events": 0}
        ).sort("created_at", -1)
        return [
            Praise(
                id=doc["id"],
                tenant=doc["tenant"],
                from_id=doc["from_id"],
                to_id=doc["to_id"],
                skills=list(doc["skills"]),
                ratings=dict(doc.get("ratings", {})),
                comment=doc["comment"],
                visibility=doc["visibility"],
                created_at=as_utc(doc["created_at"]),
            )
            async for doc in cursor.limit(1000)
        ]


# ---------------------------------------------------------------------- sharing preferences


class MongoSharing:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[SHARING]

    async def shares_with_mentors(self, tenant: str, person_id: str) -> bool:
        doc: dict[str, Any] | None = await self.collection.find_one(
            {"_id": _key(tenant, person_id), "tenant": tenant}
        )
        return bool(doc and doc.get("share_with_mentors"))

    async def set_shares_with_mentors(self, tenant: str, person_id: str, value: bool) -> None:
        await self.collection.update_one(
            {"_id": _key(tenant, person_id)},
            {"$set": {"tenant": tenant, "person_id": person_id, "share_with_mentors": value}},
            upsert=True,
        )
