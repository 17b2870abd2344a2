"""In-memory stand-ins for the notifications repositories, the people directory and the senders.

The repositories subclass the real ones and keep documents made by the real mapping, so what a
transition stores (its ``$set`` fields, its attempt, its outbox events) is the production code's;
only the queries are answered from memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from services.notifications.channels import EmailSender
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import (
    DeliveryRepository,
    delivery_document,
    delivery_from,
)
from services.notifications.delivery import (
    ASSEMBLING,
    DELIVERED,
    DIGEST,
    DIGESTED,
    PENDING,
    SENDING,
    SUPPRESSED,
    Delivery,
    SendResult,
)
from services.notifications.domain import Preferences, TenantDefaults, settling_refs
from services.notifications.notification import Notification
from services.notifications.repository import (
    GoalBindings,
    NotificationRepository,
    PreferenceRepository,
    notification_document,
    notification_from,
)
from services.notifications.settled import SettledRefs
from services.notifications.subscriptions import SubscriptionRepository, WebhookSubscription
from shared.directory import Person
from shared.events.envelope import Envelope
from shared.messaging import Router


class FakeErased:
    """Who the tenant's erasures named (ids only), as ``shared.erasure.ErasedPeople`` keeps."""

    def __init__(self) -> None:
        self.ids: set[tuple[str, str]] = set()
        self.tenant_reads = 0

    async def record(self, tenant: str, person_id: str) -> None:
        self.ids.add((tenant, person_id))

    async def among(self, tenant: str, person_ids: Iterable[str]) -> set[str]:
        return {pid for pid in person_ids if (tenant, pid) in self.ids}

    async def of_tenant(self, tenant: str) -> set[str]:
        self.tenant_reads += 1
        return {pid for t, pid in self.ids if t == tenant}


class FakeNotifications(NotificationRepository):
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def add_new(self, notifications: Sequence[Notification]) -> int:
        fresh = [n for n in notifications if n.id not in self.docs]
        self.docs.update({n.id: notification_document(n) for n in fresh})
        return len(fresh)

    async def get(self, tenant: str, notification_id: str) -> Notification | None:
        doc = self.docs.get(notification_id)
        return notification_from(doc) if doc and doc["tenant"] == tenant else None

    async def of_event(self, tenant: str, event_id: str) -> list[Notification]:
        return [
            notification_from(d)
            for d in self.docs.values()
            if (d["tenant"], d["event_id"]) == (tenant, event_id)
        ]

    def of(self, recipient_id: str) -> list[Notification]:
        return [
            notification_from(d) for d in self.docs.values() if d["recipient_id"] == recipient_id
        ]

    def stored(self) -> list[Notification]:
        """Every notification, in the order they were stored."""
        return [notification_from(d) for d in self.docs.values()]


class FakeDeliveries(DeliveryRepository):
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.published: list[Envelope] = []  # what the outbox holds
        self.bulk_suppressions = 0

    def of(self, recipient_id: str, channel: str | None = None) -> list[Delivery]:
        return [
            delivery_from(d)
            for d in self.docs.values()
            if d["recipient_id"] == recipient_id and channel in (None, d["channel"])
        ]

    async def add_new(self, deliveries: Sequence[Delivery]) -> int:
        fresh = [d for d in deliveries if d.id not in self.docs]
        self.docs.update({d.id: delivery_document(d) for d in fresh})
        return len(fresh)

    async def claim(self, now: datetime, lease_s: float) -> Delivery | None:
        due = [
            d
            for d in self.docs.values()
            if (d["status"] == PENDING and d["due_at"] <= now)
            or (d["status"] == SENDING and d["lease_until"] <= now)
        ]
        if not due:
            return None
        doc = min(due, key=lambda d: d["due_at"])
        doc.update(status=SENDING, lease_until=now + timedelta(seconds=lease_s))
        return delivery_from(doc)

    async def _settle(self, d: Delivery, fields: dict[str, Any]) -> bool:
        doc = self.docs[d.id]
        if doc["status"] != SENDING:
            return False
        doc.update(fields)
        if d.new_attempt is not None:
            doc["attempts"] = [*doc["attempts"], asdict(d.new_attempt)]
            doc["attempt_count"] += 1
        self.published += d.events
        d.new_attempt = None
        d.events.clear()
        return True

    async def suppress_reminders(
        self, tenant: str, ref: str, reason: str, now: datetime, *, made_by: datetime | None = None
    ) -> int:
        hit = [
            d
            for d in self.docs.values()
            if (d["tenant"], d["ref"]) == (tenant, ref)
            and d["status"] in (PENDING, DIGEST)
            and (made_by is None or d.get("ref_at") is None or d["ref_at"] <= made_by)
        ]
        for d in hit:
            d.update(status=SUPPRESSED, reason=reason, updated_at=now)
        return len(hit)

    async def suppress_reminders_many(
        self, tenant: str, refs: Sequence[tuple[str, datetime]], reason: str, now: datetime
    ) -> int:
        self.bulk_suppressions += 1
        counted = 0
        for ref, made_by in refs:
            counted += await self.suppress_reminders(tenant, ref, reason, now, made_by=made_by)
        return counted

    async def suppress_digest_item(
        self, tenant: str, delivery_id: str, reason: str, now: datetime
    ) -> None:
        doc = self.docs[delivery_id]
        if (doc["tenant"], doc["status"]) == (tenant, DIGEST):
            doc.update(status=SUPPRESSED, reason=reason, updated_at=now)

    async def of_event(self, tenant: str, event_id: str) -> list[Delivery]:
        return [
            delivery_from(d)
            for d in self.docs.values()
            if (d["tenant"], d["event_id"]) == (tenant, event_id)
        ]

    async def of_notification(self, tenant: str, notification_id: str) -> list[Delivery]:
        return [
            delivery_from(d)
            for d in self.docs.values()
            if (d["tenant"], d["notification_id"]) == (tenant, notification_id)
        ]

    async def sent_since(self, tenant: str, recipient_id: str, since: datetime) -> int:
        return sum(
            1
            for d in self.docs.values()
            if (d["tenant"], d["recipient_id"], d["status"], d["kind"])
            == (tenant, recipient_id, DELIVERED, "notification")
            and d["channel"] in ("email", "slack")
            and d["delivered_at"] >= since
        )

    async def digest_waiting(self) -> list[tuple[str, str]]:
        return sorted(
            {
                (d["tenant"], d["recipient_id"])
                for d in self.docs.values()
                if d["status"] == DIGEST and d["digest_id"] is None
            }
        )

    async def open_digest(self, digest: Delivery) -> Delivery:
        if digest.id in self.docs:
            return delivery_from(self.docs[digest.id])
        self.docs[digest.id] = delivery_document(digest)
        return digest

    async def fill_digest(self, digest: Delivery, now: datetime) -> int:
        waiting = [
            d
            for d in self.docs.values()
            if (d["tenant"], d["recipient_id"], d["status"], d["digest_id"])
            == (digest.tenant, digest.recipient_id, DIGEST, None)
        ]
        for d in waiting:
            d.update(digest_id=digest.id, updated_at=now)
        items = sum(
            1 for d in self.docs.values() if (d["digest_id"], d["status"]) == (digest.id, DIGEST)
        )
        doc = self.docs[digest.id]
        if doc["status"] == ASSEMBLING:
            status = PENDING if items else SUPPRESSED
            doc.update(status=status, due_at=now, updated_at=now, item_count=items)
        return len(waiting)

    async def digest_items(self, digest: Delivery) -> list[Delivery]:
        found = [
            d for d in self.docs.values() if (d["digest_id"], d["status"]) == (digest.id, DIGEST)
        ]
        return [delivery_from(d) for d in sorted(found, key=lambda d: d["created_at"])]

    async def digested(self, tenant: str, ids: list[str], now: datetime) -> None:
        for i in ids:
            if self.docs[i]["status"] == DIGEST:
                self.docs[i].update(status=DIGESTED, updated_at=now)


class FakeSettled(SettledRefs):
    def __init__(self) -> None:
        self.done: dict[tuple[str, str], tuple[datetime, str]] = {}
        self.bulk_settles = 0

    async def settle(self, tenant: str, ref: str, at: datetime, reason: str) -> None:
        before = self.done.get((tenant, ref))
        self.done[(tenant, ref)] = (max(at, before[0]) if before else at, reason)

    async def settle_many(self, tenant: str, done: Sequence[tuple[str, datetime, str]]) -> None:
        self.bulk_settles += 1
        for ref, at, reason in done:
            await self.settle(tenant, ref, at, reason)

    async def moot(self, tenant: str, ref: str | None, since: datetime) -> str | None:
        for r in settling_refs(ref) if ref else []:
            found = self.done.get((tenant, r))
            if found and found[0] >= since:
                return found[1]
        return None


class FakePreferences(PreferenceRepository):
    def __init__(self) -> None:
        self.people: dict[tuple[str, str], Preferences] = {}
        self.tenants: dict[str, TenantDefaults] = {}

    async def of(self, tenant: str, person_id: str) -> Preferences:
        return self.people.get((tenant, person_id), Preferences())

    async def of_many(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Preferences]:
        return {p: self.people[(tenant, p)] for p in person_ids if (tenant, p) in self.people}

    async def save(self, tenant: str, person_id: str, prefs: Preferences) -> None:
        self.people[(tenant, person_id)] = prefs

    async def defaults_of(self, tenant: str) -> TenantDefaults:
        return self.tenants.get(tenant, TenantDefaults())

    async def save_defaults(self, tenant: str, defaults: TenantDefaults) -> None:
        self.tenants[tenant] = defaults


class FakeBindings(GoalBindings):
    def __init__(self) -> None:
        self.goals: dict[tuple[str, str], tuple[str, str, list[str]]] = {}

    async def save(
        self, tenant: str, goal_id: str, owner_id: str, status: str, metrics: list[str]
    ) -> None:
        self.goals[(tenant, goal_id)] = (owner_id, status, metrics)

    async def owners_bound_to(self, tenant: str, metric: str) -> list[str]:
        return sorted(
            {
                owner
                for (t, _), (owner, status, metrics) in self.goals.items()
                if t == tenant and status == "active" and metric in metrics
            }
        )


class FakeSubscriptions(SubscriptionRepository):
    def __init__(self) -> None:
        self.items: dict[str, WebhookSubscription] = {}

    async def add(self, subscription: WebhookSubscription) -> None:
        self.items[subscription.id] = subscription

    async def of_tenant(self, tenant: str) -> list[WebhookSubscription]:
        return [s for s in self.items.values() if s.tenant == tenant]

    async def active_of(self, tenant: str) -> list[WebhookSubscription]:
        return [s for s in await self.of_tenant(tenant) if s.active]

    async def get(self, tenant: str, subscription_id: str) -> WebhookSubscription | None:
        found = self.items.get(subscription_id)
        return found if found and found.tenant == tenant else None

    async def disable(self, tenant: str, subscription_id: str, reason: str) -> bool:
        found = await self.get(tenant, subscription_id)
        if found is None or not found.active:
            return False
        found.active, found.disabled_reason = False, reason
        return True

    async def delete(self, tenant: str, subscription_id: str) -> bool:
        return self.items.pop(subscription_id, None) is not None


class FakeDirectory:
    """The people projection, filled by the test instead of by person events."""

    def __init__(self) -> None:
        self.people: dict[tuple[str, str], Person] = {}
        self.mentors: dict[tuple[str, str], list[str]] = {}

    def add(self, tenant: str, person_id: str, **fields: Any) -> Person:
        fields.setdefault("email", f"{person_id}@{tenant}.test")
        person = Person(id=person_id, tenant=tenant, user_name=person_id, **fields)
        self.people[(tenant, person_id)] = person
        return person

    def register(self, router: Router) -> None:
        return None

    async def get(self, tenant: str, person_id: str) -> Person | None:
        return self.people.get((tenant, person_id))

    async def many(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Person]:
        return {p: self.people[(tenant, p)] for p in person_ids if (tenant, p) in self.people}

    async def mentors_of(self, tenant: str, mentee_id: str) -> list[str]:
        return self.mentors.get((tenant, mentee_id), [])


class FakeEmail(EmailSender):
    """Renders with the real templates; sends nowhere and answers what the test scripted."""

    def __init__(self, settings: NotificationsSettings) -> None:
        super().__init__(settings)
        self.sent: list[EmailMessage] = []
        self.answers: list[SendResult] = []

    async def send(self, msg: EmailMessage) -> SendResult:
        self.sent.append(msg)
        return self.answers.pop(0) if self.answers else SendResult(True, status_code=250)


class FakeHttp:
    def __init__(self) -> None:
        self.posts: list[tuple[str, bytes, dict[str, str]]] = []
        self.answers: list[SendResult] = []

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        self.posts.append((url, body, headers))
        return self.answers.pop(0) if self.answers else SendResult(True, status_code=200)

    async def close(self) -> None:
        return None
