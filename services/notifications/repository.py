"""Every Mongo query of the notifications service except the delivery queue (deliveries.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.notifications.domain import Preferences, QuietHours, TenantDefaults
from shared.directory import PeopleDirectory, Person
from shared.mongo import Document

NOTIFICATIONS = "notifications"
PREFERENCES = "preferences"
TENANT_DEFAULTS = "tenant_defaults"
BINDINGS = "goal_bindings"
SUBSCRIPTIONS = "webhook_subscriptions"

DUPLICATE_KEY = 11000
CHUNK = 1000
BULK = 200  # recipients above which a tenant-wide read beats chunks of $in


def key(*parts: str) -> str:
    return ":".join(parts)


async def insert_new(collection: Any, docs: Sequence[Document]) -> int:
    """Insert the documents of one event that are not there yet; return how many.

    Unique keys make a redelivery harmless; checking first keeps it cheap.
    """
    if not docs:
        return 0
    first = docs[0]
    # a redelivered (or half-done) event: skip what is there, duplicate-key errors are slow
    existing = {
        d["_id"]
        async for d in collection.find(
            {"tenant": first["tenant"], "event_id": first["event_id"]}, {"_id": 1}
        )
    }
    fresh = [d for d in docs if d["_id"] not in existing]
    inserted = 0
    for start in range(0, len(fresh), CHUNK):
        chunk = fresh[start : start + CHUNK]
        if not chunk:
            continue
        try:
            result = await collection.insert_many(chunk, ordered=False)
            inserted += len(result.inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(err.get("code") != DUPLICATE_KEY for err in errors):
                raise
            inserted += int(exc.details.get("nInserted", 0))
    return inserted


class NotificationStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.notifications = db[NOTIFICATIONS]
        self.preferences = db[PREFERENCES]
        self.tenant_defaults = db[TENANT_DEFAULTS]
        self.bindings = db[BINDINGS]
        self.subscriptions = db[SUBSCRIPTIONS]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            NOTIFICATIONS: [
                IndexModel(
                    [("tenant", ASCENDING), ("event_id", ASCENDING), ("recipient_id", ASCENDING)],
                    unique=True,
                ),
                IndexModel(
                    [
                        ("tenant", ASCENDING),
                        ("recipient_id", ASCENDING),
                        ("in_inbox", ASCENDING),
                        ("created_at", DESCENDING),
                    ]
                ),
            ],
            PREFERENCES: [
                IndexModel([("tenant", ASCENDING), ("person_id", ASCENDING)], unique=True)
            ],
            TENANT_DEFAULTS: [IndexModel([("tenant", ASCENDING)], unique=True)],
            BINDINGS: [
                IndexModel([("tenant", ASCENDING), ("goal_id", ASCENDING)], unique=True),
                IndexModel([("tenant", ASCENDING), ("bound_metrics", ASCENDING)]),
            ],
            SUBSCRIPTIONS: [IndexModel([("tenant", ASCENDING), ("active", ASCENDING)])],
        }

    # ------------------------------------------------------------------ notifications / inbox

    async def insert_notifications(self, docs: Sequence[Document]) -> int:
        return await insert_new(self.notifications, docs)

    async def notification(self, tenant: str, notification_id: str) -> Document | None:
        return await self.notifications.find_one({"_id": notification_id, "tenant": tenant})

    async def inbox_page(
        self,
        tenant: str,
        person_id: str,
        *,
        unread: bool,
        archived: bool,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Document]:
        query: Document = {"tenant": tenant, "recipient_id": person_id, "in_inbox": True}
        query["archived_at"] = {"$ne": None} if archived else None
        if unread:
            query["read_at"] = None
        if after is not None:
            at, last_id = after
            query["$or"] = [
                {"created_at": {"$lt": at}},
                {"created_at": at, "_id": {"$lt": last_id}},
            ]
        cursor = (
            self.notifications.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [doc async for doc in cursor]

    async def inbox_since(
        self, tenant: str, person_id: str, since: datetime, limit: int = 100
    ) -> list[Document]:
        query = {
            "tenant": tenant,
            "recipient_id": person_id,
            "in_inbox": True,
            "created_at": {"$gte": since},
        }
        cursor = self.notifications.find(query).sort([("created_at", ASCENDING)]).limit(limit)
        return [doc async for doc in cursor]

    async def inbox_counts(self, tenant: str, person_id: str) -> tuple[int, int]:
        base = {"tenant": tenant, "recipient_id": person_id, "in_inbox": True, "archived_at": None}
        unread = await self.notifications.count_documents({**base, "read_at": None})
        unseen = await self.notifications.count_documents({**base, "seen_at": None})
        return unread, unseen

    async def mark(
        self, tenant: str, person_id: str, notification_id: str, fields: Document
    ) -> Document | None:
        """Set timestamps (read/seen/archived) that are not set yet; None when not theirs."""
        doc = await self.notifications.find_one(
            {"_id": notification_id, "tenant": tenant, "recipient_id": person_id, "in_inbox": True}
        )
        if doc is None:
            return None
        unset = {name: value for name, value in fields.items() if doc.get(name) is None}
        if not unset:
            return doc
        return await self.notifications.find_one_and_update(
            {"_id": notification_id, "tenant": tenant},
            {"$set": unset},
            return_document=ReturnDocument.AFTER,
        )

    async def mark_all(self, tenant: str, person_id: str, field: str, at: datetime) -> int:
        base = {
            "tenant": tenant,
            "recipient_id": person_id,
            "in_inbox": True,
            "archived_at": None,
            field: None,
        }
        fields = {field: at}
        if field == "read_at":
            # reading implies seeing
            await self.notifications.update_many(
                {**base, "seen_at": None}, {"$set": {"seen_at": at}}
            )
        result = await self.notifications.update_many(base, {"$set": fields})
        return result.modified_count

    # ------------------------------------------------------------------ preferences

    async def preferences_of(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Document]:
        found: dict[str, Document] = {}
        ids = list(person_ids)
        if len(ids) > BULK:
            # only people who changed something have a document: one pass beats many $in
            wanted = set(ids)
            async for doc in self.preferences.find({"tenant": tenant}):
                if doc["person_id"] in wanted:
                    found[doc["person_id"]] = doc
            return found
        for start in range(0, len(ids), CHUNK):
            keys = [key(tenant, pid) for pid in ids[start : start + CHUNK]]
            async for doc in self.preferences.find({"_id": {"$in": keys}}):
                found[doc["person_id"]] = doc
        return found

    async def save_preferences(self, tenant: str, person_id: str, fields: Document) -> Document:
        doc = await self.preferences.find_one_and_update(
            {"_id": key(tenant, person_id)},
            {"$set": {**fields, "tenant": tenant, "person_id": person_id}, "$inc": {"version": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return doc

    async def defaults_of(self, tenant: str) -> Document | None:
        return await self.tenant_defaults.find_one({"_id": tenant})

    async def save_defaults(self, tenant: str, fields: Document) -> Document:
        doc = await self.tenant_defaults.find_one_and_update(
            {"_id": tenant},
            {"$set": {**fields, "tenant": tenant}, "$inc": {"version": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return doc

    async def people(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Person]:
        """Many recipients at once from the people projection (a big fan-out reads it whole)."""
        return await PeopleDirectory(self.db).many(tenant, person_ids)

    # ------------------------------------------------------------------ goal → metric bindings

    async def save_binding(
        self, tenant: str, goal_id: str, owner_id: str, status: str, metrics: list[str]
    ) -> None:
        await self.bindings.update_one(
            {"_id": key(tenant, goal_id)},
            {
                "$set": {
                    "tenant": tenant,
                    "goal_id": goal_id,
                    "owner_id": owner_id,
                    "status": status,
                    "bound_metrics": metrics,
                }
            },
            upsert=True,
        )

    async def owners_bound_to(self, tenant: str, metric: str) -> list[str]:
        cursor = self.bindings.find(
            {"tenant": tenant, "bound_metrics": metric, "status": "active"}, {"owner_id": 1}
        )
        return sorted({doc["owner_id"] async for doc in cursor})

    # ------------------------------------------------------------------ webhook subscriptions

    async def insert_subscription(self, doc: Document) -> None:
        await self.subscriptions.insert_one(doc)

    async def subscriptions_of(self, tenant: str, *, active_only: bool) -> list[Document]:
        query: Document = {"tenant": tenant}
        if active_only:
            query["active"] = True
        return [doc async for doc in self.subscriptions.find(query).sort("created_at", ASCENDING)]

    async def subscription(self, tenant: str, subscription_id: str) -> Document | None:
        return await self.subscriptions.find_one({"_id": subscription_id, "tenant": tenant})

    async def disable_subscription(self, tenant: str, subscription_id: str, reason: str) -> bool:
        result = await self.subscriptions.update_one(
            {"_id": subscription_id, "tenant": tenant, "active": True},
            {"$set": {"active": False, "disabled_reason": reason}},
        )
        return result.modified_count == 1

    async def delete_subscription(self, tenant: str, subscription_id: str) -> bool:
        result = await self.subscriptions.delete_one({"_id": subscription_id, "tenant": tenant})
        return result.deleted_count == 1


def preferences_from(doc: Document | None) -> Preferences:
    if not doc:
        return Preferences()
    quiet = doc.get("quiet_hours")
    return Preferences(
        channels=doc.get("channels") or {},
        quiet_hours=QuietHours(time.fromisoformat(quiet["start"]), time.fromisoformat(quiet["end"]))
        if quiet
        else None,
        digest_time=time.fromisoformat(doc.get("digest_time") or "09:00"),
        time_zone=doc.get("time_zone"),
        slack_webhook_url=doc.get("slack_webhook_url"),
    )


def defaults_from(doc: Document | None) -> TenantDefaults:
    if not doc:
        return TenantDefaults()
    return TenantDefaults(
        channels=doc.get("channels") or {}, locked=frozenset(doc.get("locked") or [])
    )
