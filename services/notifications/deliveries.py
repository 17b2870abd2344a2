"""The durable delivery queue: one document per (event, recipient, channel) under a unique index.

A worker claims a due delivery with one ``find_one_and_update`` (pending → sending with a lease),
so two workers never hold the same delivery; an expired lease (a crashed worker) makes it
claimable again. The outcome and its ``notification.*`` event are written in one update (the
embedded outbox), so no event is lost between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notifications.domain import (
    DELIVERED,
    DIGEST,
    DIGESTED,
    PENDING,
    SENDING,
    SUPPRESSED,
)
from services.notifications.repository import insert_new
from shared.events.envelope import Envelope
from shared.messaging.outbox import with_outbox
from shared.mongo import Document

DELIVERIES = "deliveries"
ASSEMBLING = "assembling"  # a digest being filled, not claimable yet


class DeliveryQueue:
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

    async def insert(self, docs: Sequence[Document]) -> int:
        return await insert_new(self.deliveries, docs)

    async def claim(self, now: datetime, lease_s: float) -> Document | None:
        """Take the most overdue delivery (or one whose worker's lease ran out)."""
        return await self.deliveries.find_one_and_update(
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

    async def finish(
        self,
        delivery_id: str,
        update: Document,
        events: Sequence[Envelope] = (),
    ) -> bool:
        """Record an outcome of a claimed delivery (with its events), if still claimed."""
        result = await self.deliveries.update_one(
            {"_id": delivery_id, "status": SENDING}, with_outbox(update, list(events))
        )
        return result.modified_count == 1

    async def suppress_ref(self, tenant: str, ref: str, reason: str, now: datetime) -> int:
        """Drop the pending reminders about something that is already done."""
        result = await self.deliveries.update_many(
            {"tenant": tenant, "ref": ref, "status": {"$in": [PENDING, DIGEST]}},
            {"$set": {"status": SUPPRESSED, "reason": reason, "updated_at": now}},
        )
        return result.modified_count

    async def of_event(self, tenant: str, event_id: str) -> list[Document]:
        cursor = self.deliveries.find(
            {"tenant": tenant, "event_id": event_id}, {"pending_events": 0}
        ).sort([("recipient_id", ASCENDING), ("channel", ASCENDING)])
        return [doc async for doc in cursor]

    async def of_notification(self, tenant: str, notification_id: str) -> list[Document]:
        cursor = self.deliveries.find(
            {"tenant": tenant, "notification_id": notification_id}, {"pending_events": 0}
        )
        return [doc async for doc in cursor]

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

    async def open_digest(self, doc: Document) -> Document:
        """Create the day's digest delivery (assembling) or return the existing one."""
        try:
            await self.deliveries.insert_one(doc)
            return doc
        except DuplicateKeyError:
            found = await self.deliveries.find_one({"_id": doc["_id"]})
            assert found is not None
            return found

    async def fill_digest(
        self, tenant: str, recipient_id: str, digest_id: str, now: datetime
    ) -> int:
        """Gather the person's waiting items into the digest, then make it claimable."""
        result = await self.deliveries.update_many(
            {"tenant": tenant, "recipient_id": recipient_id, "status": DIGEST, "digest_id": None},
            {"$set": {"digest_id": digest_id, "updated_at": now}},
        )
        items = await self.deliveries.count_documents(
            {"tenant": tenant, "digest_id": digest_id, "status": DIGEST}
        )
        status = PENDING if items else SUPPRESSED
        await self.deliveries.update_one(
            {"_id": digest_id, "status": ASSEMBLING},
            {"$set": {"status": status, "due_at": now, "updated_at": now, "item_count": items}},
        )
        return result.modified_count

    async def digest_items(self, tenant: str, digest_id: str) -> list[Document]:
        cursor = self.deliveries.find(
            {"tenant": tenant, "digest_id": digest_id, "status": DIGEST}, {"pending_events": 0}
        ).sort([("created_at", ASCENDING)])
        return [doc async for doc in cursor]

    async def mark_digested(self, tenant: str, ids: list[str], now: datetime) -> None:
        if ids:
            await self.deliveries.update_many(
                {"tenant": tenant, "_id": {"$in": ids}, "status": DIGEST},
                {"$set": {"status": DIGESTED, "updated_at": now}},
            )

    @property
    def collection(self) -> Any:
        return self.deliveries
