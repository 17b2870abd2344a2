"""Outbound webhook subscriptions: the type, and every query of their collection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.notifications.domain import matches
from shared.cache import TtlCache
from shared.events.envelope import Envelope
from shared.mongo import Document

SUBSCRIPTIONS = "webhook_subscriptions"


@dataclass
class WebhookSubscription:
    id: str
    tenant: str
    url: str
    event_types: list[str]
    description: str | None
    secret: str
    created_at: datetime
    active: bool = True
    disabled_reason: str | None = None

    def wants(self, event_type: str) -> bool:
        return self.active and matches(self.event_types, event_type)


def subscription_document(s: WebhookSubscription) -> Document:
    return {
        "_id": s.id,
        "tenant": s.tenant,
        "url": s.url,
        "event_types": s.event_types,
        "description": s.description,
        "secret": s.secret,
        "active": s.active,
        "disabled_reason": s.disabled_reason,
        "created_at": s.created_at,
    }


def subscription_from(doc: Document) -> WebhookSubscription:
    return WebhookSubscription(
        id=doc["_id"],
        tenant=doc["tenant"],
        url=doc["url"],
        event_types=doc["event_types"],
        description=doc.get("description"),
        secret=doc["secret"],
        created_at=doc["created_at"],
        active=doc.get("active", False),
        disabled_reason=doc.get("disabled_reason"),
    )


class SubscriptionRepository:
    def __init__(self, db: AsyncDatabase[Document], *, active_cache_s: float = 5.0) -> None:
        self.subscriptions = db[SUBSCRIPTIONS]
        self.outboxes = (self.subscriptions,)  # a subscription carries its creation's audit record
        # every consumed event asks for its tenant's active subscriptions (a query per event
        # before); a change here is seen at once, one made through another replica within
        # ``active_cache_s`` (sending re-reads the subscription, so a disabled one never sends)
        self._active: TtlCache[str, list[WebhookSubscription]] = TtlCache(active_cache_s)

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {SUBSCRIPTIONS: [IndexModel([("tenant", ASCENDING), ("active", ASCENDING)])]}

    async def add(self, subscription: WebhookSubscription, events: Sequence[Envelope] = ()) -> None:
        doc = subscription_document(subscription)
        doc["pending_events"] = [e.to_document() for e in events]
        await self.subscriptions.insert_one(doc)
        self._active.forget(subscription.tenant)

    async def of_tenant(self, tenant: str) -> list[WebhookSubscription]:
        cursor = self.subscriptions.find({"tenant": tenant}).sort("created_at", ASCENDING)
        return [subscription_from(doc) async for doc in cursor]

    async def active_of(self, tenant: str) -> list[WebhookSubscription]:
        async def load() -> list[WebhookSubscription]:
            cursor = self.subscriptions.find({"tenant": tenant, "active": True}).sort(
                "created_at", ASCENDING
            )
            return [subscription_from(doc) async for doc in cursor]

        return await self._active.get(tenant, load)

    async def get(self, tenant: str, subscription_id: str) -> WebhookSubscription | None:
        doc = await self.subscriptions.find_one({"_id": subscription_id, "tenant": tenant})
        return subscription_from(doc) if doc else None

    async def disable(self, tenant: str, subscription_id: str, reason: str) -> bool:
        result = await self.subscriptions.update_one(
            {"_id": subscription_id, "tenant": tenant, "active": True},
            {"$set": {"active": False, "disabled_reason": reason}},
        )
        self._active.forget(tenant)
        return result.modified_count == 1

    async def unpublished(self, tenant: str, subscription_id: str) -> list[Document]:
        """The outbox entries of a subscription the relay has not published yet."""
        doc = await self.subscriptions.find_one(
            {"_id": subscription_id, "tenant": tenant}, {"pending_events": 1}
        )
        return list(doc.get("pending_events") or []) if doc else []

    async def delete(self, tenant: str, subscription_id: str) -> bool:
        result = await self.subscriptions.delete_one({"_id": subscription_id, "tenant": tenant})
        self._active.forget(tenant)
        return result.deleted_count == 1
