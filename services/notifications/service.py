"""Fan-out: turn one domain event into notifications (inbox) and queued deliveries.

Everything written here is keyed by the event id (unique indexes), so a redelivered event
inserts nothing new: no second inbox item, email, Slack message or webhook.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.notifications.clock import Clock
from services.notifications.deliveries import DeliveryQueue
from services.notifications.domain import (
    DIGEST,
    PENDING,
    RULES,
    Audience,
    Rule,
    decide,
    describe,
)
from services.notifications.inbox import InboxHub
from services.notifications.metrics import NOTIFICATIONS
from services.notifications.repository import (
    NotificationStore,
    defaults_from,
    preferences_from,
)
from shared.directory import PeopleDirectory, Person
from shared.events.codec import to_structured
from shared.events.envelope import Envelope, deterministic_id
from shared.mongo import Document

# High-volume raw data points are not offered to webhook subscribers.
NOT_FOR_WEBHOOKS = frozenset({"northstar.kpi.datapoint.recorded.v1"})


def notification_id(tenant: str, event_id: str, recipient_id: str) -> str:
    return deterministic_id("notification", tenant, event_id, recipient_id)


def delivery_id(tenant: str, event_id: str, recipient_id: str, channel: str) -> str:
    return deterministic_id("delivery", tenant, event_id, recipient_id, channel)


def reminder_ref(event_type: str, data: dict[str, Any]) -> str | None:
    """What a notification reminds of, so it can be dropped once that is done."""
    if event_type == "northstar.feedback.requested.v1":
        return f"feedback:{data['request_id']}:{data['reviewer_id']}"
    if event_type in ("northstar.goal.review_due.v1", "northstar.goal.at_risk.v1"):
        return f"goal:{data['goal_id']}"
    return None


def done_refs(event_type: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    """The reminders an event makes pointless, with why."""
    request = data.get("request_id")
    match event_type:
        case "northstar.feedback.submitted.v1" | "northstar.feedback.declined.v1":
            reviewer = data.get("reviewer_id")  # anonymous requests never name the reviewer
            if reviewer:
                return [(f"feedback:{request}:{reviewer}", "the reviewer already answered")]
        case "northstar.feedback.request_expired.v1":
            return [
                (f"feedback:{request}:{reviewer}", "the feedback request expired")
                for reviewer in data.get("open_reviewer_ids", [])
            ]
        case "northstar.goal.achieved.v1" | "northstar.goal.abandoned.v1":
            return [(f"goal:{data['goal_id']}", f"the goal is {data['status']}")]
    return []


def cloudevent_json(event: Envelope) -> str:
    """The event in CloudEvents structured JSON: the body of outbound webhooks."""
    return to_structured(event).decode()


def matches(patterns: list[str], event_type: str) -> bool:
    return any(
        event_type.startswith(p[:-1]) if p.endswith("*") else event_type == p for p in patterns
    )


class Notifier:
    def __init__(
        self,
        store: NotificationStore,
        queue: DeliveryQueue,
        directory: PeopleDirectory,
        clock: Clock,
        hub: InboxHub,
        *,
        service: str,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._queue = queue
        self._directory = directory
        self._clock = clock
        self._hub = hub
        self._service = service
        self._notify = notify  # wakes the delivery worker

    async def on_event(self, event: Envelope, payload: Any) -> None:
        """React to one domain event: projections, dropped reminders, fan-out, webhooks."""
        data = event.data
        if "goal_id" in data and "bound_metrics" in data:
            await self._store.save_binding(
                event.tenant,
                data["goal_id"],
                data["owner_id"],
                data["status"],
                list(data.get("bound_metrics") or []),
            )
        now = self._clock.now()
        for ref, reason in done_refs(event.type, data):
            dropped = await self._queue.suppress_ref(event.tenant, ref, reason, now)
            if dropped:
                NOTIFICATIONS.labels(self._service, "any", "suppressed").inc(dropped)
        rule = RULES.get(event.type)
        created = 0
        if rule is not None and not (
            rule.name.startswith("northstar.person.") and not data.get("created")
        ):
            created += await self.fan_out(event, rule, now)
        if event.type not in NOT_FOR_WEBHOOKS:
            created += await self._webhooks(event, now)
        if created:
            self._notify()

    async def recipients(self, event: Envelope, rule: Rule) -> dict[str, Audience]:
        data, tenant = event.data, event.tenant
        found: list[tuple[str | None, Audience]] = []
        for audience in rule.audience:
            match audience:
                case "owner":
                    found.append((data.get("owner_id"), audience))
                case "manager":
                    owner = await self._directory.get(tenant, data.get("owner_id", ""))
                    found.append((owner.manager_id if owner else None, audience))
                case "mentors":
                    mentors = await self._directory.mentors_of(tenant, data.get("owner_id", ""))
                    found.extend((m, audience) for m in mentors)
                case "reviewer":
                    found.append((data.get("reviewer_id"), audience))
                case "requester":
                    found.append((data.get("requester_id"), audience))
                case "metric_owners":
                    owners = await self._store.owners_bound_to(tenant, data.get("metric", ""))
                    found.extend((o, audience) for o in owners)
                case "person":
                    found.append((data.get("id"), audience))
        reasons: dict[str, Audience] = {}
        for person_id, audience in found:  # dedupe: the first role found explains the notification
            if person_id and person_id not in reasons:
                reasons[person_id] = audience
        return reasons

    async def fan_out(self, event: Envelope, rule: Rule, now: datetime) -> int:
        reasons = await self.recipients(event, rule)
        if not reasons:
            return 0
        ids = list(reasons)
        people: dict[str, Person] = await self._store.people(event.tenant, ids)
        prefs_docs = await self._store.preferences_of(event.tenant, ids)
        defaults = defaults_from(await self._store.defaults_of(event.tenant))
        title, summary = describe(event.type, event.data)
        ref = reminder_ref(event.type, event.data)
        notifications: list[Document] = []
        deliveries: list[Document] = []
        for person_id, audience in reasons.items():
            person = people.get(person_id)
            if person is not None and not person.active:
                continue
            prefs = preferences_from(prefs_docs.get(person_id))
            decisions = [
                decide(rule.category, ch, prefs, defaults, has_email=bool(person and person.email))
                for ch in ("inbox", "email", "slack")
            ]
            nid = notification_id(event.tenant, event.id, person_id)
            notifications.append(
                {
                    "_id": nid,
                    "tenant": event.tenant,
                    "recipient_id": person_id,
                    "recipient_reason": audience,
                    "event_id": event.id,
                    "event_type": event.type,
                    "event_subject": event.subject,
                    "event_time": event.time,
                    "category": rule.category,
                    "rule": rule.name,
                    "rule_description": rule.description,
                    "title": title,
                    "summary": summary,
                    "data": _links(event.data),
                    "ref": ref,
                    "decisions": [d.as_dict() for d in decisions],
                    "in_inbox": decisions[0].setting != "off",
                    "created_at": now,
                    "seen_at": None,
                    "read_at": None,
                    "archived_at": None,
                }
            )
            for decision in decisions[1:]:
                if decision.setting == "off":
                    continue
                deliveries.append(
                    {
                        "_id": delivery_id(event.tenant, event.id, person_id, decision.channel),
                        "tenant": event.tenant,
                        "event_id": event.id,
                        "event_type": event.type,
                        "notification_id": nid,
                        "recipient_id": person_id,
                        "channel": decision.channel,
                        "kind": "notification",
                        "category": rule.category,
                        "status": PENDING if decision.setting == "on" else DIGEST,
                        "reason": decision.reason,
                        "due_at": now,
                        "digest_id": None,
                        "ref": ref,
                        "title": title,
                        "summary": summary,
                        "attempts": [],
                        "attempt_count": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        inserted = await self._store.insert_notifications(notifications)
        queued = await self._queue.insert(deliveries)
        if inserted:
            inbox = [doc for doc in notifications if doc["in_inbox"]]
            NOTIFICATIONS.labels(self._service, "inbox", "delivered").inc(len(inbox))
            for doc in inbox:
                self._hub.publish(doc["tenant"], doc["recipient_id"], doc)
        digested = sum(1 for d in deliveries if d["status"] == DIGEST)
        if queued and digested:
            for channel in ("email", "slack"):
                n = sum(1 for d in deliveries if d["status"] == DIGEST and d["channel"] == channel)
                if n:
                    NOTIFICATIONS.labels(self._service, channel, "digested").inc(n)
        return inserted + queued

    async def _webhooks(self, event: Envelope, now: datetime) -> int:
        subscriptions = await self._store.subscriptions_of(event.tenant, active_only=True)
        wanted = [s for s in subscriptions if matches(s["event_types"], event.type)]
        if not wanted:
            return 0
        body = cloudevent_json(event)
        docs = [
            {
                "_id": delivery_id(event.tenant, event.id, sub["_id"], "webhook"),
                "tenant": event.tenant,
                "event_id": event.id,
                "event_type": event.type,
                "notification_id": None,
                "recipient_id": sub["_id"],
                "subscription_id": sub["_id"],
                "channel": "webhook",
                "kind": "webhook",
                "category": RULES[event.type].category if event.type in RULES else "event",
                "status": PENDING,
                "reason": "the subscription asks for " + event.type,
                "due_at": now,
                "digest_id": None,
                "ref": None,
                "payload": body,
                "attempts": [],
                "attempt_count": 0,
                "created_at": now,
                "updated_at": now,
            }
            for sub in wanted
        ]
        return await self._queue.insert(docs)


def _links(data: dict[str, Any]) -> dict[str, Any]:
    keep = ("goal_id", "request_id", "metric", "owner_id", "milestone", "progress", "due_on")
    return {k: data[k] for k in keep if k in data}
