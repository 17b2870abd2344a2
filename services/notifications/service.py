"""Fan-out: turn one domain event into notifications (inbox) and queued deliveries.

Everything written here is keyed by the event id (unique indexes), so a redelivered event
inserts nothing new: no second inbox item, email, Slack message or webhook.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from services.notifications.deliveries import DeliveryRepository
from services.notifications.delivery import DIGEST, Delivery
from services.notifications.domain import (
    RULES,
    Audience,
    ChannelDecision,
    Parties,
    Preferences,
    Rule,
    category_of,
    decisions,
    done_reminders,
    reminder_ref,
    resettle_after,
)
from services.notifications.inbox import InboxHub
from services.notifications.messages import describe
from services.notifications.metrics import NOTIFICATIONS
from services.notifications.notification import Notification
from services.notifications.repository import (
    GoalBindings,
    NotificationRepository,
    PreferenceRepository,
)
from services.notifications.settled import SettledRefs
from services.notifications.subscriptions import SubscriptionRepository
from shared.directory import Person
from shared.erasure import Erased
from shared.events.codec import to_structured
from shared.events.envelope import Envelope, EventPayload
from shared.events.goals import GoalFacts
from shared.events.people import PersonErased
from shared.time import Clock

if TYPE_CHECKING:
    from services.notifications.config import NotificationsSettings
    from services.notifications.stores import NotificationStores

NO_PREFERENCES = Preferences()  # most people never change a thing
# refs this process settled lately, (tenant, ref) -> (at, reason), ~350 bytes each (~17 MB full):
# what counts is the goals moved within the last minute (12,000 at 200 points/s); one forgotten
# earlier is only written again
SETTLED_LATELY_MAX = 50_000


class Directory(Protocol):
    """What the fan-out reads of the people projection."""

    async def get(self, tenant: str, person_id: str) -> Person | None: ...

    async def many(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Person]: ...

    async def mentors_of(self, tenant: str, mentee_id: str) -> list[str]: ...


def cloudevent_json(event: Envelope) -> str:
    """The event in CloudEvents structured JSON: the body of outbound webhooks."""
    return to_structured(event).decode()


class Notifier:
    def __init__(
        self,
        *,
        notifications: NotificationRepository,
        deliveries: DeliveryRepository,
        preferences: PreferenceRepository,
        bindings: GoalBindings,
        subscriptions: SubscriptionRepository,
        directory: Directory,
        settled: SettledRefs,
        erased: Erased,
        clock: Clock,
        hub: InboxHub,
        service: str,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._notifications = notifications
        self._deliveries = deliveries
        self._preferences = preferences
        self._bindings = bindings
        self._subscriptions = subscriptions
        self._directory = directory
        self._settled = settled
        self._erased = erased
        self._clock = clock
        self._hub = hub
        self._service = service
        self._notify = notify  # wakes the delivery worker
        self._settled_lately: OrderedDict[tuple[str, str], tuple[datetime, str]] = OrderedDict()

    @classmethod
    def of(
        cls,
        settings: NotificationsSettings,
        stores: NotificationStores,
        clock: Clock,
        *,
        hub: InboxHub,
        notify: Callable[[], None],
    ) -> Notifier:
        return cls(
            notifications=stores.notifications,
            deliveries=stores.deliveries,
            preferences=stores.preferences,
            bindings=stores.bindings,
            subscriptions=stores.subscriptions,
            directory=stores.directory,
            settled=stores.settled,
            erased=stores.erased,
            clock=clock,
            hub=hub,
            service=settings.service_name,
            notify=notify,
        )

    async def track_goal(self, goal: GoalFacts) -> None:
        """Remember which metrics the goal is bound to: KPI alerts go to its owner."""
        if await self._erased.among(goal.tenant, [goal.owner_id]):
            return  # an event of the goal read after its owner's erasure (their bindings went)
        await self._bindings.save(
            goal.tenant, goal.goal_id, goal.owner_id, goal.status, list(goal.bound_metrics)
        )

    async def drop_reminders(self, event: Envelope, payload: EventPayload) -> int:
        """Reminders this event makes pointless are remembered as done (so none made before it
        is sent later, see settled.py), and the waiting ones are suppressed now."""
        return await self.drop_reminders_of_run([(event, payload)])

    async def drop_reminders_of_run(self, run: Sequence[tuple[Envelope, EventPayload]]) -> int:
        """``drop_reminders`` of a run of events: each reminder ref settled once at its latest
        event's time, and their waiting reminders suppressed together (the outcome of the
        events one by one: the latest time wins, and it suppresses what the earlier ones would)."""
        latest: dict[tuple[str, str], tuple[datetime, str]] = {}
        for event, payload in run:
            for ref, reason in done_reminders(payload):
                found = latest.get((event.tenant, ref))
                if found is None or event.time >= found[0]:
                    latest[(event.tenant, ref)] = (event.time, reason)
        by_tenant: dict[str, list[tuple[str, datetime, str]]] = {}
        for (tenant, ref), (at, reason) in latest.items():
            if not self._settled_lately_covers(tenant, ref, at, reason):
                by_tenant.setdefault(tenant, []).append((ref, at, reason))
        dropped = 0
        for tenant, done in by_tenant.items():
            await self._settled.settle_many(tenant, done)
            by_reason: dict[str, list[tuple[str, datetime]]] = {}
            for ref, at, reason in done:
                by_reason.setdefault(reason, []).append((ref, at))
            for reason, refs in by_reason.items():
                dropped += await self._deliveries.suppress_reminders_many(
                    tenant, refs, reason, self._clock()
                )
            self._remember_settled(tenant, done)
        if dropped:
            NOTIFICATIONS.labels(self._service, "any", "suppressed").inc(dropped)
        return dropped

    def _settled_lately_covers(self, tenant: str, ref: str, at: datetime, reason: str) -> bool:
        """Whether this process settled ``ref`` for the same reason so shortly before ``at``
        that settling it again changes nothing (``resettle_after``)."""
        window = resettle_after(ref)
        found = self._settled_lately.get((tenant, ref))
        if window is None or found is None or found[1] != reason:
            return False
        return at < found[0] + window  # an older time than that one changes nothing either

    def _remember_settled(self, tenant: str, done: Sequence[tuple[str, datetime, str]]) -> None:
        """What was just settled (and its waiting reminders suppressed), for ``..._covers``."""
        for ref, at, reason in done:
            if resettle_after(ref) is None:
                continue
            found = self._settled_lately.get((tenant, ref))
            if found is None or at >= found[0]:
                self._settled_lately[(tenant, ref)] = (at, reason)
                self._settled_lately.move_to_end((tenant, ref))
        while len(self._settled_lately) > SETTLED_LATELY_MAX:
            self._settled_lately.popitem(last=False)

    async def notify(self, event: Envelope, payload: EventPayload, parties: Parties) -> int:
        """Apply the event's rule: an inbox item per recipient and their outbound deliveries.

        A reminder whose subject was done after it was made (its consumer lagged, or it is a
        redelivery) tells nobody anything.
        """
        if await self._settled.moot(event.tenant, reminder_ref(payload), event.time):
            NOTIFICATIONS.labels(self._service, "any", "suppressed").inc()
            return 0
        created = await self.fan_out(event, payload, RULES[type(payload)], parties)
        if created:
            self._notify()
        return created

    async def recipients(self, tenant: str, rule: Rule, parties: Parties) -> dict[str, Audience]:
        """Each recipient once, with the first role that makes them one (the "why")."""
        found: list[tuple[str | None, Audience]] = []
        for audience in rule.audience:
            match audience:
                case "owner":
                    found.append((parties.owner_id, audience))
                case "manager":
                    owner = await self._directory.get(tenant, parties.owner_id or "")
                    found.append((owner.manager_id if owner else None, audience))
                case "mentors":
                    mentors = await self._directory.mentors_of(tenant, parties.owner_id or "")
                    found.extend((m, audience) for m in mentors)
                case "reviewer":
                    found.append((parties.reviewer_id, audience))
                case "requester":
                    found.append((parties.requester_id, audience))
                case "metric_owners":
                    owners = await self._bindings.owners_bound_to(tenant, parties.metric or "")
                    found.extend((o, audience) for o in owners)
                case "person":
                    found.append((parties.person_id, audience))
        reasons: dict[str, Audience] = {}
        for person_id, audience in found:
            if person_id and person_id not in reasons:
                reasons[person_id] = audience
        return reasons

    async def fan_out(
        self, event: Envelope, payload: EventPayload, rule: Rule, parties: Parties
    ) -> int:
        tenant = event.tenant
        reasons = await self.recipients(tenant, rule, parties)
        if not reasons:
            return 0
        ids = list(reasons)
        named = [*ids, parties.owner_id] if parties.owner_id else ids
        # independent reads: on a big fan-out each is a scan, let the store overlap them
        people, prefs, defaults, erased = await asyncio.gather(
            self._directory.many(tenant, ids),
            self._preferences.of_many(tenant, ids),
            self._preferences.defaults_of(tenant),
            self._erased.among(tenant, named),
        )
        if parties.owner_id in erased:
            return 0  # about someone erased since: nobody is told anything of them
        title, summary = describe(payload)
        ref = reminder_ref(payload)
        now = self._clock()
        # most people never set a preference: their decisions are the same, work them out once
        usual: dict[bool, list[ChannelDecision]] = {}
        notifications: list[Notification] = []
        deliveries: list[Delivery] = []
        for person_id, audience in reasons.items():
            person = people.get(person_id)
            if (person is not None and not person.active) or person_id in erased:
                continue
            has_email = bool(person and person.email)
            choices = prefs.get(person_id)
            if choices is None:
                if has_email not in usual:
                    usual[has_email] = decisions(rule.category, NO_PREFERENCES, defaults, has_email)
                channels = usual[has_email]
            else:
                channels = decisions(rule.category, choices, defaults, has_email)
            notification = Notification.create(
                event,
                rule,
                recipient_id=person_id,
                reason=audience,
                decisions=channels,
                title=title,
                summary=summary,
                ref=ref,
                now=now,
            )
            notifications.append(notification)
            deliveries.extend(notification.deliveries())
        # two collections: one's inserts need not wait for the other's
        inserted, queued = await asyncio.gather(
            self._notifications.add_new(notifications), self._deliveries.add_new(deliveries)
        )
        if inserted:
            inbox = [n for n in notifications if n.in_inbox]
            NOTIFICATIONS.labels(self._service, "inbox", "delivered").inc(len(inbox))
            for n in inbox:
                self._hub.publish(n.tenant, n.recipient_id, n)
        if queued:
            for channel in ("email", "slack"):
                waiting = sum(1 for d in deliveries if d.status == DIGEST and d.channel == channel)
                if waiting:
                    NOTIFICATIONS.labels(self._service, channel, "digested").inc(waiting)
        return inserted + queued

    async def offer_to_webhooks(self, event: Envelope) -> int:
        """Queue the event for every active subscription that asks for its type."""
        return await self.offer_many_to_webhooks([event])

    async def offer_many_to_webhooks(self, events: Sequence[Envelope]) -> int:
        """``offer_to_webhooks`` for a run of events: the tenant's erased people read once for
        the run, not once an event."""
        erased_of: dict[str, set[str]] = {}
        now = self._clock()
        queued = 0
        for event in events:
            subscriptions = await self._subscriptions.active_of(event.tenant)
            wanted = [s for s in subscriptions if s.wants(event.type)]
            if not wanted:
                continue
            body = cloudevent_json(event)
            if event.type != PersonErased.event_type:
                if event.tenant not in erased_of:
                    erased_of[event.tenant] = await self._erased.of_tenant(event.tenant)
                if any(person_id in body for person_id in erased_of[event.tenant]):
                    # what erasure deletes from the queue (a payload naming them) is not
                    # queued after it
                    continue
            queued += await self._deliveries.add_new(
                [
                    Delivery.webhook(
                        tenant=event.tenant,
                        event_id=event.id,
                        event_type=event.type,
                        category=category_of(event.type),
                        subscription_id=s.id,
                        body=body,
                        now=now,
                    )
                    for s in wanted
                ]
            )
        if queued:
            self._notify()
        return queued
