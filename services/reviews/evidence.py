"""What the reviews service learned from other services' events: goals, their moves, feedback
ratings, praise and SCIM groups. Never another service's database (DESIGN §3).

Goal state is upserted per goal (a goal's events share a partition, so the last one wins);
every other fact is one document under the id of the event that told it, so a redelivered
event inserts nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.erasure import ERASED
from shared.mongo import Document, insert_missing
from shared.time import as_utc

GOAL_FACTS = "goal_facts"
EVIDENCE = "evidence"
GROUPS = "groups"


class EvidenceRecords:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.goals = db[GOAL_FACTS]
        self.evidence = db[EVIDENCE]
        self.groups = db[GROUPS]

    @classmethod
    def indexes(cls) -> dict[str, list[IndexModel]]:
        return {
            GOAL_FACTS: [IndexModel([("tenant", ASCENDING), ("owner_id", ASCENDING)])],
            EVIDENCE: [
                IndexModel([("tenant", ASCENDING), ("person_id", ASCENDING), ("at", ASCENDING)])
            ],
            GROUPS: [IndexModel([("tenant", ASCENDING), ("id", ASCENDING)], unique=True)],
        }

    # ------------------------------------------------------------------ writes

    async def track_goal(self, tenant: str, goal_id: str, fields: Document, at: datetime) -> None:
        """The goal's latest facts; when it was first seen stays."""
        await self.goals.update_one(
            {"_id": f"{tenant}:{goal_id}"},
            {
                "$set": {"tenant": tenant, "goal_id": goal_id, **fields, "updated_at": at},
                "$setOnInsert": {"first_seen_at": at},
            },
            upsert=True,
        )

    async def record(self, tenant: str, event_id: str, facts: Sequence[Document]) -> int:
        """Store an event's facts once: their ids come from the event id."""
        docs = [
            {"_id": f"{tenant}:{event_id}:{n}", "tenant": tenant, **fact}
            for n, fact in enumerate(facts)
        ]
        return await insert_missing(self.evidence, docs)

    async def take_back(
        self, tenant: str, event_id: str, facts: int, *, goal_id: str | None = None
    ) -> None:
        """Delete what ``record`` stored of an event (``facts`` of them) and, given its id, the
        goal's facts: an event about someone erased meanwhile."""
        ids = [f"{tenant}:{event_id}:{n}" for n in range(facts)]
        if ids:
            await self.evidence.delete_many({"_id": {"$in": ids}})
        if goal_id is not None:
            await self.goals.delete_one({"_id": f"{tenant}:{goal_id}"})

    async def unname_giver(self, tenant: str, event_id: str) -> None:
        """The praise an event stored, its giver erased meanwhile: kept, from ``erased``."""
        await self.evidence.update_one(
            {"_id": f"{tenant}:{event_id}:0"}, {"$set": {"from_id": ERASED}}
        )

    async def put_group(self, tenant: str, group_id: str, member_ids: list[str]) -> None:
        await self.groups.update_one(
            {"_id": f"{tenant}:{group_id}"},
            {"$set": {"tenant": tenant, "id": group_id, "member_ids": member_ids}},
            upsert=True,
        )

    async def drop_group(self, tenant: str, group_id: str) -> None:
        await self.groups.delete_one({"_id": f"{tenant}:{group_id}", "tenant": tenant})

    # ------------------------------------------------------------------ reads

    async def group_members(self, tenant: str, group_id: str) -> list[str] | None:
        doc = await self.groups.find_one({"_id": f"{tenant}:{group_id}"})
        return list(doc["member_ids"]) if doc and doc.get("tenant") == tenant else None

    async def goals_of(self, tenant: str, owner_id: str) -> list[Document]:
        cursor = self.goals.find({"tenant": tenant, "owner_id": owner_id}, {"_id": 0})
        return [_aware(doc) async for doc in cursor.sort("goal_id", ASCENDING).limit(500)]

    async def facts_of(
        self, tenant: str, person_id: str, *, until: datetime | None = None, limit: int = 5000
    ) -> list[Document]:
        """A person's facts (moves, milestones, ratings, praise), oldest first."""
        query: dict[str, Any] = {"tenant": tenant, "person_id": person_id}
        if until is not None:
            query["at"] = {"$lt": until}
        cursor = self.evidence.find(query, {"_id": 0}).sort("at", ASCENDING).limit(limit)
        return [_aware(doc) async for doc in cursor]


def _aware(doc: Document) -> Document:
    for name in ("at", "updated_at", "first_seen_at", "created_at", "achieved_at"):
        if isinstance(doc.get(name), datetime):
            doc[name] = as_utc(doc[name])
    return doc
