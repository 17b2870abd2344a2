"""Document-store queries of the GDPR erasure and export (docs/people.md#erasure-and-export).

An erased person's document is replaced by a marker: their id, tenant, the erasure's
per-service status and the outbox that carries ``person.erased`` and the tombstones. Nothing
else of them stays; every read of the service already skips it (``deleted``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.people.repository import GROUPS, MENTORSHIPS, PEOPLE
from shared.errors import VersionConflict
from shared.events.envelope import Envelope
from shared.messaging.outbox import PENDING
from shared.mongo import Document

EXPORTS = "person_exports"

INDEXES: dict[str, list[IndexModel]] = {
    EXPORTS: [IndexModel([("tenant", ASCENDING), ("person_id", ASCENDING)])],
}


def erased_marker(
    doc: Document, events: list[Envelope], services: list[str], now: datetime, by: str
) -> Document:
    """What stays of a person's document once erased (unpublished events go out first)."""
    return {
        "_id": doc["_id"],
        "tenant": doc["tenant"],
        "version": doc.get("version", 0) + 1,
        "deleted": True,
        "erased": True,
        # unique per tenant, and no NUL: PostgreSQL (as a SCIM delete does)
        "user_name_key": f"\x1ferased:{doc['_id']}",
        "erasure": {
            "requested_at": now,
            "requested_by": by,
            "services": {name: {"status": "pending"} for name in services},
            "completed_at": None,
        },
        PENDING: [*doc.get(PENDING, []), *(e.to_document() for e in events)],
    }


def group_without(scim: str | None, person_id: str) -> str | None:
    """A group's stored SCIM copy without the member (its ``display`` is the person's name)."""
    if not scim:
        return scim
    resource: dict[str, Any] = orjson.loads(scim)
    members = resource.get("members")
    if isinstance(members, list):
        resource["members"] = [
            m for m in members if not (isinstance(m, dict) and m.get("value") == person_id)
        ]
    return orjson.dumps(resource).decode()


class ErasureRecords:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.people: AsyncCollection[Document] = db[PEOPLE]
        self.groups: AsyncCollection[Document] = db[GROUPS]
        self.mentorships: AsyncCollection[Document] = db[MENTORSHIPS]
        self.exports: AsyncCollection[Document] = db[EXPORTS]

    async def stored_person(self, tenant: str, person_id: str) -> Document | None:
        """The person's document, deleted (SCIM) or erased ones included."""
        return await self.people.find_one({"_id": person_id, "tenant": tenant})

    async def mark_erased(self, doc: Document, marker: Document) -> None:
        result = await self.people.replace_one(
            {"_id": doc["_id"], "tenant": doc["tenant"], "version": doc.get("version", 0)}, marker
        )
        if result.matched_count == 0:
            raise VersionConflict("the person was changed meanwhile; try the erasure again")

    async def mentorship_ids(self, tenant: str, person_id: str) -> list[str]:
        query = {"tenant": tenant, "$or": [{"mentor_id": person_id}, {"mentee_id": person_id}]}
        return [doc["_id"] async for doc in self.mentorships.find(query, {"_id": 1})]

    async def delete_mentorships(self, tenant: str, ids: list[str]) -> None:
        await self.mentorships.delete_many({"tenant": tenant, "_id": {"$in": ids}})

    async def report_ids(self, tenant: str, manager_id: str) -> list[str]:
        query = {"tenant": tenant, "manager_id": manager_id, "deleted": {"$ne": True}}
        return [doc["_id"] async for doc in self.people.find(query, {"_id": 1})]

    async def groups_with(self, tenant: str, person_id: str) -> list[Document]:
        """The live groups listing the person (with their stored SCIM copy)."""
        query = {"tenant": tenant, "member_ids": person_id, "deleted": {"$ne": True}}
        return [doc async for doc in self.groups.find(query, {"scim": 1})]

    async def forget_in_deleted_groups(self, tenant: str, person_id: str) -> None:
        """Deleted groups publish nothing more: take the member out of what they store."""
        query = {"tenant": tenant, "member_ids": person_id, "deleted": True}
        async for doc in self.groups.find(query, {"scim": 1}):
            await self.groups.update_one(
                {"_id": doc["_id"], "tenant": tenant},
                {
                    "$pullAll": {"member_ids": [person_id]},
                    "$set": {"scim": group_without(doc.get("scim"), person_id)},
                },
            )

    async def service_done(self, tenant: str, person_id: str, service: str, at: datetime) -> None:
        """Record one service's completion, then the erasure's once every service is done."""
        await self.people.update_one(
            {"_id": person_id, "tenant": tenant, "erased": True},
            {"$set": {f"erasure.services.{service}": {"status": "done", "at": at}}},
        )
        doc = await self.people.find_one({"_id": person_id, "tenant": tenant, "erased": True})
        if doc is None or doc["erasure"].get("completed_at") is not None:
            return
        if all(s.get("status") == "done" for s in doc["erasure"]["services"].values()):
            await self.people.update_one(
                {"_id": person_id, "tenant": tenant, "erasure.completed_at": None},
                {"$set": {"erasure.completed_at": at}},
            )

    # ------------------------------------------------------------------ exports

    async def person_holdings(self, tenant: str, person_id: str) -> dict[str, list[Document]]:
        """What this service holds about a person, as an export shows it."""
        hidden = {PENDING: 0}
        people = [
            doc async for doc in self.people.find({"_id": person_id, "tenant": tenant}, hidden)
        ]
        groups = [
            doc
            async for doc in self.groups.find({"tenant": tenant, "member_ids": person_id}, hidden)
        ]
        query = {"tenant": tenant, "$or": [{"mentor_id": person_id}, {"mentee_id": person_id}]}
        mentorships = [doc async for doc in self.mentorships.find(query, hidden)]
        return {PEOPLE: people, GROUPS: groups, MENTORSHIPS: mentorships}

    async def insert_export(self, doc: Document) -> None:
        await self.exports.insert_one(doc)

    async def get_export(self, tenant: str, export_id: str) -> Document | None:
        return await self.exports.find_one({"_id": export_id, "tenant": tenant})

    async def delete_exports(self, tenant: str, person_id: str) -> None:
        await self.exports.delete_many({"tenant": tenant, "person_id": person_id})
