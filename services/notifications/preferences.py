"""Use cases around people's choices and the operators' view: preferences, tenant defaults,
webhook subscriptions, "why did I get this" and the delivery log.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.notifications.clock import Clock
from services.notifications.deliveries import DeliveryQueue
from services.notifications.domain import (
    CATEGORIES,
    PERSON_CHANNELS,
    decide,
    validate_time_zone,
)
from services.notifications.repository import NotificationStore, defaults_from, preferences_from
from services.notifications.ssrf import UrlGuard
from shared.auth import Principal
from shared.errors import Forbidden, NotFound
from shared.events.envelope import CATALOGUE
from shared.mongo import Document
from shared.webhooks import new_secret


class PreferenceCenter:
    def __init__(
        self, store: NotificationStore, queue: DeliveryQueue, guard: UrlGuard, clock: Clock
    ) -> None:
        self._store = store
        self._queue = queue
        self._guard = guard
        self._clock = clock

    async def view(self, tenant: str, person_id: str) -> Document:
        """The person's own settings and the effective category x channel matrix."""
        doc = (await self._store.preferences_of(tenant, [person_id])).get(person_id)
        prefs = preferences_from(doc)
        defaults = defaults_from(await self._store.defaults_of(tenant))
        effective = {
            category: {
                channel: decide(category, channel, prefs, defaults, has_email=True).setting
                for channel in PERSON_CHANNELS
            }
            for category in CATEGORIES
        }
        return {
            "channels": effective,
            "explicit": prefs.channels,
            "locked": sorted(defaults.locked),
            "quiet_hours": doc.get("quiet_hours") if doc else None,
            "digest_time": prefs.digest_time.isoformat("minutes"),
            "time_zone": prefs.time_zone,
            "slack_webhook_url": prefs.slack_webhook_url,
        }

    async def update(self, tenant: str, person_id: str, fields: Document) -> Document:
        defaults = defaults_from(await self._store.defaults_of(tenant))
        for category, channels in fields["channels"].items():
            if category not in defaults.locked:
                continue
            for channel, setting in channels.items():
                locked = defaults.channels.get(category, {}).get(channel)
                if locked is not None and locked != setting:
                    raise Forbidden(
                        f"{category} on {channel} is locked by your organisation to {locked}",
                    )
        if fields.get("time_zone"):
            validate_time_zone(fields["time_zone"])
        if fields.get("slack_webhook_url"):
            await self._guard.check(fields["slack_webhook_url"])
        await self._store.save_preferences(tenant, person_id, fields)
        return await self.view(tenant, person_id)

    async def defaults(self, tenant: str) -> Document:
        doc = await self._store.defaults_of(tenant)
        return {
            "channels": (doc or {}).get("channels", {}),
            "locked": (doc or {}).get("locked", []),
        }

    async def update_defaults(self, tenant: str, fields: Document) -> Document:
        await self._store.save_defaults(tenant, fields)
        return await self.defaults(tenant)

    # ------------------------------------------------------------------ webhook subscriptions

    async def subscribe(
        self, tenant: str, url: str, event_types: list[str], description: str | None
    ) -> Document:
        await self._guard.check(url)
        for pattern in event_types:
            if not any(
                t.startswith(pattern[:-1]) if pattern.endswith("*") else t == pattern
                for t in CATALOGUE
            ):
                from shared.errors import InvalidInput

                raise InvalidInput(f"{pattern!r} matches no event type of the catalogue")
        doc = {
            "_id": str(uuid.uuid4()),
            "tenant": tenant,
            "url": url,
            "event_types": event_types,
            "description": description,
            "secret": new_secret(),
            "active": True,
            "disabled_reason": None,
            "created_at": self._clock.now(),
        }
        await self._store.insert_subscription(doc)
        return doc

    async def subscriptions(self, tenant: str) -> list[Document]:
        return await self._store.subscriptions_of(tenant, active_only=False)

    async def subscription(self, tenant: str, subscription_id: str) -> Document:
        doc = await self._store.subscription(tenant, subscription_id)
        if doc is None:
            raise NotFound(f"no webhook subscription {subscription_id}")
        return doc

    async def unsubscribe(self, tenant: str, subscription_id: str) -> None:
        if not await self._store.delete_subscription(tenant, subscription_id):
            raise NotFound(f"no webhook subscription {subscription_id}")

    # ------------------------------------------------------------------ explanations

    async def why(self, principal: Principal, notification_id: str) -> Document:
        doc = await self._store.notification(principal.tenant, notification_id)
        if doc is None or (doc["recipient_id"] != principal.person_id and not principal.is_admin):
            raise NotFound(f"no notification {notification_id}")
        deliveries = await self._queue.of_notification(principal.tenant, notification_id)
        return {"notification": doc, "deliveries": deliveries}

    async def deliveries(self, principal: Principal, event_id: str) -> list[Document]:
        rows: list[Document] = await self._queue.of_event(principal.tenant, event_id)
        inbox = [
            {
                "_id": n["_id"],
                "event_id": n["event_id"],
                "recipient_id": n["recipient_id"],
                "channel": "inbox",
                "kind": "notification",
                "status": "delivered" if n["in_inbox"] else "off",
                "reason": n["decisions"][0]["reason"],
                "created_at": n["created_at"],
                "delivered_at": n["created_at"] if n["in_inbox"] else None,
                "attempts": [],
            }
            async for n in self._store.notifications.find(
                {"tenant": principal.tenant, "event_id": event_id}
            )
        ]
        everything = rows + inbox
        if not principal.is_admin:
            everything = [r for r in everything if r["recipient_id"] == principal.person_id]
        return everything

    @staticmethod
    def public(doc: Document, *, with_secret: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in doc.items() if k not in ("_id", "secret", "tenant")}
        out["id"] = doc["_id"]
        if with_secret:
            out["secret"] = doc["secret"]
        return out
