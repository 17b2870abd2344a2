"""Use cases around people's choices and the operators' view: preferences, tenant defaults,
webhook subscriptions, "why did I get this" and the delivery log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.notifications.deliveries import DeliveryRepository
from services.notifications.delivery import Delivery
from services.notifications.domain import (
    CATEGORIES,
    PERSON_CHANNELS,
    ChannelDecision,
    Preferences,
    QuietHours,
    Setting,
    TenantDefaults,
    decide,
    matches,
    validate_time_zone,
)
from services.notifications.notification import RuleRef, SourceEvent
from services.notifications.repository import NotificationRepository, PreferenceRepository
from services.notifications.ssrf import UrlGuard
from services.notifications.subscriptions import SubscriptionRepository, WebhookSubscription
from shared.audit import Actor, AuditTrail, audit_event, changed_fields
from shared.auth import Principal
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.events.envelope import CATALOGUE
from shared.time import Clock
from shared.webhooks import new_secret

if TYPE_CHECKING:
    from services.notifications.stores import NotificationStores


@dataclass(frozen=True)
class PreferencesView:
    """A person's own settings and what applies to them, category by channel."""

    channels: dict[str, dict[str, Setting]]
    explicit: dict[str, dict[str, Setting]]
    locked: list[str]
    quiet_hours: QuietHours | None
    digest_time: str
    time_zone: str | None
    slack_webhook_url: str | None


@dataclass(frozen=True)
class Explanation:
    """Why one person got one notification: the event, the rule, the decisions, the deliveries."""

    notification_id: str
    recipient_id: str
    recipient_reason: str
    event: SourceEvent
    rule: RuleRef
    decisions: list[ChannelDecision]
    deliveries: list[Delivery]


SERVICE = "notifications"


def _defaults_fields(defaults: TenantDefaults) -> dict[str, Any]:
    return {
        "channels": {c: dict(v) for c, v in sorted(defaults.channels.items())},
        "locked": sorted(defaults.locked),
    }


def _subscription_fields(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "url": subscription.url,
        "event_types": subscription.event_types,
        "description": subscription.description,
    }


class PreferenceCenter:
    def __init__(
        self,
        *,
        preferences: PreferenceRepository,
        notifications: NotificationRepository,
        deliveries: DeliveryRepository,
        subscriptions: SubscriptionRepository,
        guard: UrlGuard,
        clock: Clock,
        trail: AuditTrail,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._preferences = preferences
        self._notifications = notifications
        self._deliveries = deliveries
        self._subscriptions = subscriptions
        self._guard = guard
        self._clock = clock
        self._trail = trail
        self._notify = notify

    @classmethod
    def of(
        cls,
        stores: NotificationStores,
        guard: UrlGuard,
        clock: Clock,
        *,
        trail: AuditTrail,
        notify: Callable[[], None] = lambda: None,
    ) -> PreferenceCenter:
        return cls(
            preferences=stores.preferences,
            notifications=stores.notifications,
            deliveries=stores.deliveries,
            subscriptions=stores.subscriptions,
            guard=guard,
            clock=clock,
            trail=trail,
            notify=notify,
        )

    async def view(self, tenant: str, person_id: str) -> PreferencesView:
        prefs = await self._preferences.of(tenant, person_id)
        defaults = await self._preferences.defaults_of(tenant)
        effective: dict[str, dict[str, Setting]] = {
            category: {
                channel: decide(category, channel, prefs, defaults, has_email=True).setting
                for channel in PERSON_CHANNELS
            }
            for category in CATEGORIES
        }
        return PreferencesView(
            channels=effective,
            explicit=prefs.channels,
            locked=sorted(defaults.locked),
            quiet_hours=prefs.quiet_hours,
            digest_time=prefs.digest_time.isoformat("minutes"),
            time_zone=prefs.time_zone,
            slack_webhook_url=prefs.slack_webhook_url,
        )

    async def update(self, tenant: str, person_id: str, prefs: Preferences) -> PreferencesView:
        defaults = await self._preferences.defaults_of(tenant)
        for category, channels in prefs.channels.items():
            if category not in defaults.locked:
                continue
            for channel, setting in channels.items():
                locked = defaults.channels.get(category, {}).get(channel)
                if locked is not None and locked != setting:
                    raise Forbidden(
                        f"{category} on {channel} is locked by your organisation to {locked}",
                    )
        # ``field`` names the input a form shows the problem next to
        try:
            if prefs.time_zone:
                validate_time_zone(prefs.time_zone)
        except InvalidInput as exc:
            raise InvalidInput(exc.detail, field="time_zone") from exc
        try:
            if prefs.slack_webhook_url:
                await self._guard.check(prefs.slack_webhook_url)
        except InvalidInput as exc:
            # the same problem type (an unsafe URL stays `unsafe-url`), now naming its field
            raise type(exc)(exc.detail, field="slack_webhook_url") from exc
        await self._preferences.save(tenant, person_id, prefs)
        return await self.view(tenant, person_id)

    async def defaults(self, tenant: str) -> TenantDefaults:
        return await self._preferences.defaults_of(tenant)

    async def update_defaults(
        self, tenant: str, defaults: TenantDefaults, *, actor: Actor
    ) -> TenantDefaults:
        """Replace the defaults; a change (of a lock, above all) is audited in the same write."""
        before, after = changed_fields(
            _defaults_fields(await self._preferences.defaults_of(tenant)),
            _defaults_fields(defaults),
        )
        records = (
            [
                audit_event(
                    tenant=tenant,
                    actor=actor,
                    action="notification_defaults.changed",
                    object_type="notification_defaults",
                    object_id=tenant,
                    service=SERVICE,
                    before=before,
                    after=after,
                    at=self._clock(),
                )
            ]
            if after or before
            else []
        )
        await self._preferences.save_defaults(tenant, defaults, records)
        if records:
            self._notify()
        return await self.defaults(tenant)

    # ------------------------------------------------------------------ webhook subscriptions

    async def subscribe(
        self,
        tenant: str,
        url: str,
        event_types: list[str],
        description: str | None,
        *,
        actor: Actor,
    ) -> WebhookSubscription:
        await self._guard.check(url)
        for pattern in event_types:
            if not any(matches([pattern], t) for t in CATALOGUE):
                raise InvalidInput(f"{pattern!r} matches no event type of the catalogue")
        subscription = WebhookSubscription(
            id=str(uuid.uuid4()),
            tenant=tenant,
            url=url,
            event_types=event_types,
            description=description,
            secret=new_secret(),
            created_at=self._clock(),
        )
        record = audit_event(
            tenant=tenant,
            actor=actor,
            action="webhook_subscription.created",
            object_type="webhook_subscription",
            object_id=subscription.id,
            service=SERVICE,
            after=_subscription_fields(subscription),  # never the signing secret
            at=subscription.created_at,
        )
        await self._subscriptions.add(subscription, [record])
        self._notify()
        return subscription

    async def subscriptions(self, tenant: str) -> list[WebhookSubscription]:
        return await self._subscriptions.of_tenant(tenant)

    async def subscription(self, tenant: str, subscription_id: str) -> WebhookSubscription:
        found = await self._subscriptions.get(tenant, subscription_id)
        if found is None:
            raise NotFound(f"no webhook subscription {subscription_id}")
        return found

    async def unsubscribe(self, tenant: str, subscription_id: str, *, actor: Actor) -> None:
        """Remove a subscription. The document that would carry the record goes, so the record
        is written to the audit trail's own outbox first: a failure in between leaves a record
        of a removal to retry, never a removal without its record."""
        subscription = await self.subscription(tenant, subscription_id)
        carried = await self._subscriptions.unpublished(tenant, subscription_id)
        await self._trail.record(
            audit_event(
                tenant=tenant,
                actor=actor,
                action="webhook_subscription.deleted",
                object_type="webhook_subscription",
                object_id=subscription_id,
                service=SERVICE,
                before=_subscription_fields(subscription),
                at=self._clock(),
            ),
            carried=carried,  # its creation's record, if not relayed yet
        )
        self._notify()
        if not await self._subscriptions.delete(tenant, subscription_id):
            raise NotFound(f"no webhook subscription {subscription_id}")

    # ------------------------------------------------------------------ explanations

    async def why(self, principal: Principal, notification_id: str) -> Explanation:
        found = await self._notifications.get(principal.tenant, notification_id)
        if found is None or (found.recipient_id != principal.person_id and not principal.is_admin):
            raise NotFound(f"no notification {notification_id}")
        return Explanation(
            notification_id=found.id,
            recipient_id=found.recipient_id,
            recipient_reason=found.recipient_reason,
            event=found.event,
            rule=found.rule,
            decisions=found.decisions,
            deliveries=await self._deliveries.of_notification(principal.tenant, notification_id),
        )

    async def deliveries(self, principal: Principal, event_id: str) -> list[Delivery]:
        """Every channel of every recipient of one event, the inbox included."""
        outbound = await self._deliveries.of_event(principal.tenant, event_id)
        inbox = [
            n.as_inbox_delivery()
            for n in await self._notifications.of_event(principal.tenant, event_id)
        ]
        everything = outbound + inbox
        if not principal.is_admin:
            everything = [d for d in everything if d.recipient_id == principal.person_id]
        return everything
