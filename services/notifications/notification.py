"""One notification: what one person is told about one event, and why.

Pure: no I/O. It is the inbox item (seen, read, archived) and the record behind "why did I get
this"; its email and Slack deliveries start from its channel decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from services.notifications.delivery import DIGEST, PENDING, Delivery, delivery_id
from services.notifications.domain import Audience, ChannelDecision, Rule
from shared.events.envelope import Envelope, deterministic_id
from shared.events.people import MentorshipRequested

# what an inbox item keeps of its event's data: enough to link to the goal, request or metric
LINKS = (
    "goal_id",
    "request_id",
    "metric",
    "owner_id",
    "milestone",
    "progress",
    "due_on",
    "review_id",
    "step",
    "due_date",
    "mentee_id",
)
# a generic field worth keeping under a name that says what it is: the id the API acts on
RENAMED = {MentorshipRequested.event_type: {"id": "mentorship_id"}}


def page_of(data: dict[str, Any]) -> str:
    """The web app page a notification opens (a path; emails put the app's URL before it):
    the feedback request it is about, else its goal, else the profile of whoever asks to be
    mentored, else the inbox."""
    if request_id := data.get("request_id"):
        return f"/feedback/requests/{quote(str(request_id), safe='')}"
    if goal_id := data.get("goal_id"):
        return f"/goals/{quote(str(goal_id), safe='')}"
    if mentee_id := data.get("mentee_id"):
        # the person asking to be mentored: who they are before answering
        return f"/people/{quote(str(mentee_id), safe='')}"
    return "/inbox"


def notification_id(tenant: str, event_id: str, recipient_id: str) -> str:
    return deterministic_id("notification", tenant, event_id, recipient_id)


@dataclass(frozen=True)
class SourceEvent:
    """The event a notification answers."""

    id: str
    type: str
    subject: str
    time: datetime

    @classmethod
    def of(cls, event: Envelope) -> SourceEvent:
        return cls(event.id, event.type, event.subject, event.time)


@dataclass(frozen=True)
class RuleRef:
    name: str
    category: str
    description: str


@dataclass
class Notification:
    id: str
    tenant: str
    recipient_id: str
    recipient_reason: str
    event: SourceEvent
    rule: RuleRef
    title: str
    summary: str
    data: dict[str, Any]
    ref: str | None
    decisions: list[ChannelDecision]
    in_inbox: bool
    created_at: datetime
    seen_at: datetime | None = None
    read_at: datetime | None = None
    archived_at: datetime | None = None
    # the inbox timestamps the next save sets (never stored as such)
    marked: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        event: Envelope,
        rule: Rule,
        *,
        recipient_id: str,
        reason: Audience,
        decisions: list[ChannelDecision],
        title: str,
        summary: str,
        ref: str | None,
        now: datetime,
    ) -> Notification:
        """``decisions`` are the inbox's, then the outbound channels'."""
        return cls(
            id=notification_id(event.tenant, event.id, recipient_id),
            tenant=event.tenant,
            recipient_id=recipient_id,
            recipient_reason=reason,
            event=SourceEvent.of(event),
            rule=RuleRef(rule.name, rule.category, rule.description),
            title=title,
            summary=summary,
            data={k: event.data[k] for k in LINKS if k in event.data}
            | {new: event.data[old] for old, new in RENAMED.get(event.type, {}).items()},
            ref=ref,
            decisions=decisions,
            in_inbox=decisions[0].setting != "off",
            created_at=now,
        )

    @property
    def category(self) -> str:
        return self.rule.category

    @property
    def event_id(self) -> str:
        return self.event.id

    @property
    def event_type(self) -> str:
        return self.event.type

    @property
    def page(self) -> str:
        return page_of(self.data)

    @property
    def seen(self) -> bool:
        return self.seen_at is not None

    @property
    def read(self) -> bool:
        return self.read_at is not None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def deliveries(self) -> list[Delivery]:
        """Email and Slack: sent now when on, kept for the digest when set to digest."""
        return [
            Delivery(
                id=delivery_id(self.tenant, self.event.id, self.recipient_id, decision.channel),
                tenant=self.tenant,
                event_id=self.event.id,
                event_type=self.event.type,
                notification_id=self.id,
                recipient_id=self.recipient_id,
                channel=decision.channel,
                kind="notification",
                category=self.rule.category,
                status=PENDING if decision.setting == "on" else DIGEST,
                reason=decision.reason,
                due_at=self.created_at,
                ref=self.ref,
                ref_at=self.event.time if self.ref else None,
                page=self.page,
                title=self.title,
                summary=self.summary,
                created_at=self.created_at,
                updated_at=self.created_at,
            )
            for decision in self.decisions[1:]
            if decision.setting != "off"
        ]

    # ------------------------------------------------------------------ the inbox

    def mark_read(self, now: datetime) -> None:
        """Reading implies seeing; a time once set stays."""
        self._mark("read_at", now)
        self._mark("seen_at", now)

    def archive(self, now: datetime) -> None:
        self._mark("archived_at", now)
        self._mark("seen_at", now)

    def _mark(self, name: str, now: datetime) -> None:
        if getattr(self, name) is None:
            setattr(self, name, now)
            self.marked[name] = now

    def as_inbox_delivery(self) -> Delivery:
        """The inbox as one more channel in the delivery log (it never waits or fails)."""
        return Delivery(
            id=self.id,
            tenant=self.tenant,
            event_id=self.event.id,
            event_type=self.event.type,
            recipient_id=self.recipient_id,
            channel="inbox",
            kind="notification",
            category=self.rule.category,
            status="delivered" if self.in_inbox else "off",
            reason=self.decisions[0].reason,
            due_at=None,
            created_at=self.created_at,
            updated_at=self.created_at,
            delivered_at=self.created_at if self.in_inbox else None,
        )
