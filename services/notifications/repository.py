"""Every Mongo query of notifications (the inbox), preferences and goal bindings, and the
mapping of their documents; the delivery queue is in deliveries.py, subscriptions in
subscriptions.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import datetime, time
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.notifications.domain import (
    ChannelDecision,
    Preferences,
    QuietHours,
    TenantDefaults,
)
from services.notifications.notification import Notification, RuleRef, SourceEvent
from shared.events.envelope import Envelope
from shared.messaging.outbox import with_outbox
from shared.mongo import Document, insert_missing

NOTIFICATIONS = "notifications"
PREFERENCES = "preferences"
TENANT_DEFAULTS = "tenant_defaults"
BINDINGS = "goal_bindings"

CHUNK = 1000
BULK = 200  # recipients above which a tenant-wide read beats chunks of $in


def key(*parts: str) -> str:
    return ":".join(parts)


async def insert_new(collection: AsyncCollection[Document], docs: Sequence[Document]) -> int:
    """Insert the documents of one event that are not there yet; return how many.

    Unique keys make a redelivery harmless; checking first keeps it cheap. The check asks for
    the chunk's own ids (a deterministic ``_id`` each), which every store answers from the
    primary index; asked by ``(tenant, event_id)``, the local FerretDB answered from a GIN
    intersection whose tenant side is every item the tenant has, a cost that grew with the
    items kept (1.0 ms at 5,000, 3.7 ms at 50,000; by ids 0.7 ms at both; docs/bench-load.md).
    """
    inserted = 0
    for start in range(0, len(docs), CHUNK):
        chunk = docs[start : start + CHUNK]
        ids = [d["_id"] for d in chunk]
        # a redelivered (or half-done) event: skip what is there, duplicate-key errors are slow
        existing = {d["_id"] async for d in collection.find({"_id": {"$in": ids}}, {"_id": 1})}
        inserted += await insert_missing(collection, [d for d in chunk if d["_id"] not in existing])
    return inserted


# ---------------------------------------------------------------------- notifications (inbox)


def notification_document(n: Notification) -> Document:
    return {
        "_id": n.id,
        "tenant": n.tenant,
        "recipient_id": n.recipient_id,
        "recipient_reason": n.recipient_reason,
        "event_id": n.event.id,
        "event_type": n.event.type,
        "event_subject": n.event.subject,
        "event_time": n.event.time,
        "category": n.rule.category,
        "rule": n.rule.name,
        "rule_description": n.rule.description,
        "title": n.title,
        "summary": n.summary,
        "data": n.data,
        "ref": n.ref,
        "decisions": [
            {"channel": d.channel, "setting": d.setting, "source": d.source, "reason": d.reason}
            for d in n.decisions
        ],
        "in_inbox": n.in_inbox,
        "created_at": n.created_at,
        "seen_at": n.seen_at,
        "read_at": n.read_at,
        "archived_at": n.archived_at,
    }


def notification_from(doc: Document) -> Notification:
    return Notification(
        id=doc["_id"],
        tenant=doc["tenant"],
        recipient_id=doc["recipient_id"],
        recipient_reason=doc["recipient_reason"],
        event=SourceEvent(
            doc["event_id"], doc["event_type"], doc["event_subject"], doc["event_time"]
        ),
        rule=RuleRef(doc["rule"], doc["category"], doc["rule_description"]),
        title=doc["title"],
        summary=doc["summary"],
        data=doc.get("data") or {},
        ref=doc.get("ref"),
        decisions=[ChannelDecision(**d) for d in doc["decisions"]],
        in_inbox=doc["in_inbox"],
        created_at=doc["created_at"],
        seen_at=doc.get("seen_at"),
        read_at=doc.get("read_at"),
        archived_at=doc.get("archived_at"),
    )


class NotificationRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.notifications = db[NOTIFICATIONS]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            NOTIFICATIONS: [
                # also serves the lookup of an event's notifications before they are inserted
                # (on the local FerretDB through the unique index's GIN twin)
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
            ]
        }

    async def add_new(self, notifications: Sequence[Notification]) -> int:
        """Store one event's notifications that are not stored yet; return how many were new."""
        return await insert_new(
            self.notifications, [notification_document(n) for n in notifications]
        )

    async def get(self, tenant: str, notification_id: str) -> Notification | None:
        doc = await self.notifications.find_one({"_id": notification_id, "tenant": tenant})
        return notification_from(doc) if doc else None

    async def of_event(self, tenant: str, event_id: str) -> list[Notification]:
        cursor = self.notifications.find({"tenant": tenant, "event_id": event_id})
        return [notification_from(doc) async for doc in cursor]

    async def inbox_item(
        self, tenant: str, person_id: str, notification_id: str
    ) -> Notification | None:
        doc = await self.notifications.find_one(
            {"_id": notification_id, "tenant": tenant, "recipient_id": person_id, "in_inbox": True}
        )
        return notification_from(doc) if doc else None

    async def inbox_page(
        self,
        tenant: str,
        person_id: str,
        *,
        unread: bool,
        archived: bool,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Notification]:
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
        return [notification_from(doc) async for doc in cursor]

    async def inbox_since(
        self, tenant: str, person_ids: Collection[str], since: datetime, limit: int
    ) -> list[Notification]:
        """The inbox items of these people created from ``since`` on, oldest first."""
        ids = list(person_ids)
        query = {
            "tenant": tenant,
            # one person by equality: the local FerretDB hands that to PostgreSQL, not `$in`
            "recipient_id": ids[0] if len(ids) == 1 else {"$in": ids},
            "in_inbox": True,
            "created_at": {"$gte": since},
        }
        cursor = self.notifications.find(query).sort([("created_at", ASCENDING)]).limit(limit)
        return [notification_from(doc) async for doc in cursor]

    async def inbox_counts(self, tenant: str, person_id: str) -> tuple[int, int]:
        """Unread and unseen items outside the archive."""
        base = {"tenant": tenant, "recipient_id": person_id, "in_inbox": True, "archived_at": None}
        unread, unseen = await asyncio.gather(
            self.notifications.count_documents({**base, "read_at": None}),
            self.notifications.count_documents({**base, "seen_at": None}),
        )
        return unread, unseen

    async def save_marks(self, n: Notification) -> None:
        """Store the inbox times the notification just got (read, seen, archived)."""
        if n.marked:
            await self.notifications.update_one(
                {"_id": n.id, "tenant": n.tenant}, {"$set": dict(n.marked)}
            )
            n.marked.clear()

    async def see_all(self, tenant: str, person_id: str, at: datetime) -> int:
        return await self._mark_all(tenant, person_id, "seen_at", at)

    async def read_all(self, tenant: str, person_id: str, at: datetime) -> int:
        await self._mark_all(tenant, person_id, "seen_at", at)  # reading implies seeing
        return await self._mark_all(tenant, person_id, "read_at", at)

    async def _mark_all(self, tenant: str, person_id: str, name: str, at: datetime) -> int:
        result = await self.notifications.update_many(
            {
                "tenant": tenant,
                "recipient_id": person_id,
                "in_inbox": True,
                "archived_at": None,
                name: None,
            },
            {"$set": {name: at}},
        )
        return result.modified_count


# ---------------------------------------------------------------------- preferences


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


def preferences_document(prefs: Preferences) -> Document:
    quiet = prefs.quiet_hours
    return {
        "channels": {c: dict(v) for c, v in prefs.channels.items()},
        "quiet_hours": {
            "start": quiet.start.isoformat("minutes"),
            "end": quiet.end.isoformat("minutes"),
        }
        if quiet
        else None,
        "digest_time": prefs.digest_time.isoformat("minutes"),
        "time_zone": prefs.time_zone,
        "slack_webhook_url": prefs.slack_webhook_url,
    }


def defaults_from(doc: Document | None) -> TenantDefaults:
    if not doc:
        return TenantDefaults()
    return TenantDefaults(
        channels=doc.get("channels") or {}, locked=frozenset(doc.get("locked") or [])
    )


class PreferenceRepository:
    """People's choices and their tenant's defaults."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.preferences = db[PREFERENCES]
        self.tenant_defaults = db[TENANT_DEFAULTS]
        self.outboxes = (self.tenant_defaults,)  # a defaults change carries its audit record

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            PREFERENCES: [
                IndexModel([("tenant", ASCENDING), ("person_id", ASCENDING)], unique=True)
            ],
            TENANT_DEFAULTS: [IndexModel([("tenant", ASCENDING)], unique=True)],
        }

    async def of(self, tenant: str, person_id: str) -> Preferences:
        return preferences_from(await self.preferences.find_one({"_id": key(tenant, person_id)}))

    async def of_many(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Preferences]:
        """The preferences of those who set any (the others have none stored)."""
        found: dict[str, Preferences] = {}
        ids = list(person_ids)
        if len(ids) > BULK:
            # only people who changed something have a document: one pass beats many $in
            wanted = set(ids)
            async for doc in self.preferences.find({"tenant": tenant}):
                if doc["person_id"] in wanted:
                    found[doc["person_id"]] = preferences_from(doc)
            return found
        for start in range(0, len(ids), CHUNK):
            keys = [key(tenant, pid) for pid in ids[start : start + CHUNK]]
            async for doc in self.preferences.find({"_id": {"$in": keys}}):
                found[doc["person_id"]] = preferences_from(doc)
        return found

    async def save(self, tenant: str, person_id: str, prefs: Preferences) -> None:
        await self.preferences.update_one(
            {"_id": key(tenant, person_id)},
            {
                "$set": {**preferences_document(prefs), "tenant": tenant, "person_id": person_id},
                "$inc": {"version": 1},
            },
            upsert=True,
        )

    async def defaults_of(self, tenant: str) -> TenantDefaults:
        return defaults_from(await self.tenant_defaults.find_one({"_id": tenant}))

    async def save_defaults(
        self, tenant: str, defaults: TenantDefaults, events: Sequence[Envelope] = ()
    ) -> None:
        fields: dict[str, Any] = {
            "channels": {c: dict(v) for c, v in defaults.channels.items()},
            "locked": sorted(defaults.locked),
            "tenant": tenant,
        }
        await self.tenant_defaults.update_one(
            {"_id": tenant},
            with_outbox({"$set": fields, "$inc": {"version": 1}}, events),
            upsert=True,
        )


# ---------------------------------------------------------------------- goal → metric bindings


class GoalBindings:
    """Which active goals (and so which owners) are bound to which metric, from goal events."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.bindings = db[BINDINGS]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            BINDINGS: [
                IndexModel([("tenant", ASCENDING), ("goal_id", ASCENDING)], unique=True),
                IndexModel([("tenant", ASCENDING), ("bound_metrics", ASCENDING)]),
            ]
        }

    async def save(
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
