"""The durable delivery queue: one document per (event, recipient, channel) under a unique index.

A worker claims a due delivery with one ``find_one_and_update`` (pending → sending with a lease),
so two workers never hold the same delivery; an expired lease (a crashed worker) makes it
claimable again. Each transition of a claimed delivery is one method below, one update filtered
on "still claimed"; its ``notification.*`` event rides in the same update (the embedded outbox),
so no event is lost between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifications.delivery import (
    ASSEMBLING,
    DELIVERED,
    DIGEST,
    DIGESTED,
    PENDING,
    SENDING,
    SUPPRESSED,
    Attempt,
    Delivery,
)
from services.notifications.repository import insert_new
from shared.messaging.outbox import with_outbox
from shared.mongo import Document
from shared.time import as_utc

DELIVERIES = "deliveries"
WITHOUT_OUTBOX = {"pending_events": 0}
# fields a kind of delivery does not have are left out of its document
OPTIONAL = (
    "subscription_id",
    "ref_at",
    "title",
    "page",
    "summary",
    "payload",
    "day",
    "item_count",
    "traceparent",
)


def waiting_reminders(tenant: str, refs: Sequence[tuple[str, datetime]]) -> Document:
    """The waiting reminders about ``refs`` (each ``(ref, made_by)``): made by ``made_by`` or
    carrying no time.

    Every ``$or`` branch names its ref, so each branch can be found by the (tenant, ref,
    status) index; and the refs are named once more in a ``$in``: the local FerretDB hands
    equality, ``$exists``, ranges, ``$or`` and a ``$in`` of strings to PostgreSQL, which then
    reads a delivery's ref once to drop it, where the ``$or`` alone read it (decompressing a
    large delivery) once a branch: 15 ms a run on 200 deliveries, a run naming ~60 refs.
    """
    named = sorted({r for r, _ in refs})
    branches: list[Document] = [{"ref": ref, "ref_at": {"$exists": False}} for ref in named]
    branches += [{"ref": ref, "ref_at": {"$lte": made_by}} for ref, made_by in sorted(refs)]
    return {
        "tenant": tenant,
        "status": {"$in": [PENDING, DIGEST]},
        "ref": {"$in": named},
        "$or": branches,
    }


def delivery_document(d: Delivery) -> Document:
    doc: Document = {
        "_id": d.id,
        "tenant": d.tenant,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "notification_id": d.notification_id,
        "recipient_id": d.recipient_id,
        "channel": d.channel,
        "kind": d.kind,
        "category": d.category,
        "status": d.status,
        "reason": d.reason,
        "due_at": d.due_at,
        "digest_id": d.digest_id,
        "ref": d.ref,
        "attempts": [asdict(a) for a in d.attempts],
        "attempt_count": d.attempt_count,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    }
    for name in OPTIONAL:
        value = getattr(d, name)
        if value is not None:
            doc[name] = value
    return doc


def delivery_from(doc: Document) -> Delivery:
    return Delivery(
        id=doc["_id"],
        tenant=doc["tenant"],
        event_id=doc["event_id"],
        event_type=doc["event_type"],
        notification_id=doc.get("notification_id"),
        recipient_id=doc["recipient_id"],
        subscription_id=doc.get("subscription_id"),
        channel=doc["channel"],
        kind=doc["kind"],
        category=doc["category"],
        status=doc["status"],
        reason=doc.get("reason"),
        due_at=doc.get("due_at"),
        digest_id=doc.get("digest_id"),
        ref=doc.get("ref"),
        ref_at=as_utc(doc.get("ref_at")),
        title=doc.get("title"),
        page=doc.get("page"),
        summary=doc.get("summary"),
        payload=doc.get("payload"),
        day=doc.get("day"),
        item_count=doc.get("item_count"),
        delivered_at=doc.get("delivered_at"),
        last_error=doc.get("last_error"),
        attempts=[Attempt(**a) for a in doc.get("attempts", [])],
        attempt_count=int(doc.get("attempt_count", 0)),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        traceparent=doc.get("traceparent"),
    )


class DeliveryRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.deliveries = db[DELIVERIES]
        self.outboxes = (self.deliveries,)  # delivered/failed events ride in deliveries

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            DELIVERIES: [
                IndexModel(
                    [
                        ("tenant", ASCENDING),
                        ("event_id", ASCENDING),
                        ("recipient_id", ASCENDING),
                        ("channel", ASCENDING),
                    ],
                    unique=True,
                ),
                IndexModel([("status", ASCENDING), ("due_at", ASCENDING), ("tenant", ASCENDING)]),
                IndexModel([("tenant", ASCENDING), ("ref", ASCENDING), ("status", ASCENDING)]),
                IndexModel(
                    [("tenant", ASCENDING), ("recipient_id", ASCENDING), ("status", ASCENDING)]
                ),
                IndexModel([("tenant", ASCENDING), ("digest_id", ASCENDING)]),
            ]
        }

    async def add_new(self, deliveries: Sequence[Delivery]) -> int:
        """Queue one event's deliveries that are not queued yet; return how many were new."""
        return await insert_new(self.deliveries, [delivery_document(d) for d in deliveries])

    async def claim(self, now: datetime, lease_s: float) -> Delivery | None:
        """Take the most overdue delivery (or one whose worker's lease ran out)."""
        doc = await self.deliveries.find_one_and_update(
            {
                "$or": [
                    {"status": PENDING, "due_at": {"$lte": now}},
                    {"status": SENDING, "lease_until": {"$lte": now}},
                ]
            },
            {
                "$set": {"status": SENDING, "lease_until": now + timedelta(seconds=lease_s)},
                "$inc": {"claims": 1},
            },
            sort=[("due_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return delivery_from(doc) if doc else None

    # ------------------------------------------------------------------ transitions of a claim

    async def delivered(self, d: Delivery) -> bool:
        return await self._settle(
            d, {"status": d.status, "delivered_at": d.delivered_at, "updated_at": d.updated_at}
        )

    async def retry_later(self, d: Delivery) -> bool:
        return await self._settle(
            d,
            {
                "status": d.status,
                "due_at": d.due_at,
                "updated_at": d.updated_at,
                "last_error": d.last_error,
            },
        )

    async def failed(self, d: Delivery) -> bool:
        return await self._settle(
            d, {"status": d.status, "updated_at": d.updated_at, "last_error": d.last_error}
        )

    async def deferred(self, d: Delivery) -> bool:
        return await self._settle(
            d,
            {
                "status": d.status,
                "due_at": d.due_at,
                "updated_at": d.updated_at,
                "reason": d.reason,
            },
        )

    async def folded_into_digest(self, d: Delivery) -> bool:
        return await self._settle(
            d,
            {
                "status": d.status,
                "digest_id": d.digest_id,
                "updated_at": d.updated_at,
                "reason": d.reason,
            },
        )

    async def suppressed(self, d: Delivery) -> bool:
        return await self._settle(
            d, {"status": d.status, "reason": d.reason, "updated_at": d.updated_at}
        )

    async def _settle(self, d: Delivery, fields: Document) -> bool:
        """Store a claimed delivery's new state (with its attempt and events), if still claimed."""
        update: dict[str, Any] = {"$set": fields}
        if d.new_attempt is not None:
            update["$push"] = {"attempts": asdict(d.new_attempt)}
            update["$inc"] = {"attempt_count": 1}
        result = await self.deliveries.update_one(
            {"_id": d.id, "status": SENDING}, with_outbox(update, d.events)
        )
        d.new_attempt = None
        d.events.clear()
        return result.modified_count == 1

    # ------------------------------------------------------------------ reminders, cap, log

    async def suppress_reminders_many(
        self, tenant: str, refs: Sequence[tuple[str, datetime]], reason: str, now: datetime
    ) -> int:
        """Drop the waiting reminders about things already done, in one update: each ref's made
        by its ``made_by`` (a reminder made after that, e.g. next week's update nudge, is not
        about this one) or carrying no time."""
        if not refs:
            return 0
        result = await self.deliveries.update_many(
            waiting_reminders(tenant, refs),
            {"$set": {"status": SUPPRESSED, "reason": reason, "updated_at": now}},
        )
        return result.modified_count

    async def suppress_digest_item(
        self, tenant: str, delivery_id: str, reason: str, now: datetime
    ) -> None:
        """An item that became moot while it waited for the digest stays out of it."""
        await self.deliveries.update_one(
            {"_id": delivery_id, "tenant": tenant, "status": DIGEST},
            {"$set": {"status": SUPPRESSED, "reason": reason, "updated_at": now}},
        )

    async def of_event(self, tenant: str, event_id: str) -> list[Delivery]:
        cursor = self.deliveries.find(
            {"tenant": tenant, "event_id": event_id}, WITHOUT_OUTBOX
        ).sort([("recipient_id", ASCENDING), ("channel", ASCENDING)])
        return [delivery_from(doc) async for doc in cursor]

    async def of_notification(self, tenant: str, notification_id: str) -> list[Delivery]:
        cursor = self.deliveries.find(
            {"tenant": tenant, "notification_id": notification_id}, WITHOUT_OUTBOX
        )
        return [delivery_from(doc) async for doc in cursor]

    async def sent_since(self, tenant: str, recipient_id: str, since: datetime) -> int:
        """Immediate email and Slack sends to one person since ``since`` (the daily cap)."""
        return await self.deliveries.count_documents(
            {
                "tenant": tenant,
                "recipient_id": recipient_id,
                "status": DELIVERED,
                "channel": {"$in": ["email", "slack"]},
                "kind": "notification",
                "delivered_at": {"$gte": since},
            }
        )

    # ------------------------------------------------------------------ digests

    async def digest_waiting(self) -> list[tuple[str, str]]:
        """(tenant, person) pairs with items waiting for a digest."""
        pipeline: list[Document] = [
            {"$match": {"status": DIGEST, "digest_id": None}},
            {"$group": {"_id": {"tenant": "$tenant", "recipient_id": "$recipient_id"}}},
        ]
        cursor = await self.deliveries.aggregate(pipeline)
        return [(doc["_id"]["tenant"], doc["_id"]["recipient_id"]) async for doc in cursor]

    async def open_digest(self, digest: Delivery) -> Delivery:
        """Create the day's digest delivery (assembling) or return the existing one."""
        try:
            await self.deliveries.insert_one(delivery_document(digest))
            return digest
        except DuplicateKeyError:
            found = await self.deliveries.find_one({"_id": digest.id}, WITHOUT_OUTBOX)
            assert found is not None
            return delivery_from(found)

    async def fill_digest(self, digest: Delivery, now: datetime) -> int:
        """Gather the person's waiting items into the digest, then make it claimable."""
        tenant, recipient_id = digest.tenant, digest.recipient_id
        result = await self.deliveries.update_many(
            {"tenant": tenant, "recipient_id": recipient_id, "status": DIGEST, "digest_id": None},
            {"$set": {"digest_id": digest.id, "updated_at": now}},
        )
        items = await self.deliveries.count_documents(
            {"tenant": tenant, "digest_id": digest.id, "status": DIGEST}
        )
        status = PENDING if items else SUPPRESSED
        await self.deliveries.update_one(
            {"_id": digest.id, "status": ASSEMBLING},
            {"$set": {"status": status, "due_at": now, "updated_at": now, "item_count": items}},
        )
        return result.modified_count

    async def digest_items(self, digest: Delivery) -> list[Delivery]:
        cursor = self.deliveries.find(
            {"tenant": digest.tenant, "digest_id": digest.id, "status": DIGEST}, WITHOUT_OUTBOX
        ).sort([("created_at", ASCENDING)])
        return [delivery_from(doc) async for doc in cursor]

    async def digested(self, tenant: str, ids: list[str], now: datetime) -> None:
        """The items went out inside a digest."""
        if ids:
            await self.deliveries.update_many(
                {"tenant": tenant, "_id": {"$in": ids}, "status": DIGEST},
                {"$set": {"status": DIGESTED, "updated_at": now}},
            )
