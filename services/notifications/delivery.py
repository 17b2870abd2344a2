"""One delivery: a notification (or a digest, or a source event) on its way through one channel.

Pure: no I/O. A delivery moves through seven states; each method below is one transition, and
the two that end it record ``notification.delivered`` / ``notification.failed``, which the
repository stores in the same update as the new state (the embedded outbox).

    pending --claim--> sending --deliver--> delivered            (records notification.delivered)
                       sending --fail, nothing left / give_up--> failed  (notification.failed)
                       sending --fail, retry / defer (quiet hours)--> pending
                       sending --fold_into_digest (daily cap)--> digest --sent in one--> digested
    pending or digest --suppress--> suppressed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from services.notifications.domain import retry_delay
from shared.events.envelope import Envelope, EventPayload, deterministic_id, new_event
from shared.events.notifications import (
    DIGEST_SOURCE_TYPE,
    NotificationDelivered,
    NotificationFailed,
)
from shared.tracing import current_traceparent

SOURCE = "northstar/notifications"

PENDING = "pending"  # due at ``due_at``
SENDING = "sending"  # claimed by a worker until ``lease_until``
DELIVERED = "delivered"
FAILED = "failed"  # gave up
DIGEST = "digest"  # waits for the recipient's next daily digest
DIGESTED = "digested"  # went out inside a digest
SUPPRESSED = "suppressed"  # dropped (reminder already done, subscription disabled...)
ASSEMBLING = "assembling"  # a digest being filled, not claimable yet

Kind = Literal["notification", "webhook", "digest"]


def delivery_id(tenant: str, event_id: str, recipient_id: str, channel: str) -> str:
    return deterministic_id("delivery", tenant, event_id, recipient_id, channel)


@dataclass(frozen=True)
class SendResult:
    """What a channel answered to one attempt."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False  # retrying cannot help
    gone: bool = False  # the receiver said 410: stop sending to it


@dataclass(frozen=True)
class RetryPolicy:
    schedule: list[float]
    max_retry_after_s: float

    def delay(self, attempts: int, result: SendResult) -> float | None:
        """Seconds before the next attempt after ``attempts`` failed ones; None: give up."""
        if result.permanent or result.gone:
            return None
        retry_after = result.retry_after
        if retry_after is not None:
            retry_after = min(retry_after, self.max_retry_after_s)
        return retry_delay(self.schedule, attempts, retry_after)


@dataclass(frozen=True)
class Attempt:
    n: int
    at: datetime
    ok: bool
    status_code: int | None = None
    error: str | None = None


@dataclass
class Delivery:
    id: str
    tenant: str
    event_id: str
    event_type: str
    recipient_id: str
    channel: str
    kind: Kind
    category: str
    status: str
    reason: str | None
    due_at: datetime | None  # None only for the inbox rows of the delivery log
    created_at: datetime
    updated_at: datetime
    notification_id: str | None = None
    subscription_id: str | None = None
    digest_id: str | None = None
    ref: str | None = None
    ref_at: datetime | None = None  # the time of the event that made the reminder (settled.py)
    title: str | None = None  # a notification's, for email and Slack
    page: str | None = None  # a notification's web app page (its email links there)
    summary: str | None = None
    payload: str | None = None  # a webhook's body, encoded when it was queued
    day: str | None = None  # a digest's local date
    item_count: int | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    attempt_count: int = 0
    # the trace of the event that caused it (the consumer's span when it was queued): the
    # send and its outcome event continue it, an outbound webhook carries it (traceparent)
    traceparent: str | None = field(default_factory=current_traceparent)
    # what the next save adds (never stored as such)
    new_attempt: Attempt | None = None
    events: list[Envelope] = field(default_factory=list)

    # ------------------------------------------------------------------ how deliveries start

    @classmethod
    def webhook(
        cls,
        *,
        tenant: str,
        event_id: str,
        event_type: str,
        category: str,
        subscription_id: str,
        body: str,
        now: datetime,
    ) -> Delivery:
        return cls(
            id=delivery_id(tenant, event_id, subscription_id, "webhook"),
            tenant=tenant,
            event_id=event_id,
            event_type=event_type,
            recipient_id=subscription_id,
            subscription_id=subscription_id,
            channel="webhook",
            kind="webhook",
            category=category,
            status=PENDING,
            reason="the subscription asks for " + event_type,
            due_at=now,
            payload=body,
            created_at=now,
            updated_at=now,
        )

    @classmethod
    def digest(
        cls, *, tenant: str, recipient_id: str, day: str, at: str, now: datetime
    ) -> Delivery:
        """Today's digest email, assembling until the waiting items are gathered into it."""
        event_id = f"digest:{day}"
        return cls(
            id=delivery_id(tenant, event_id, recipient_id, "email"),
            tenant=tenant,
            event_id=event_id,
            event_type=DIGEST_SOURCE_TYPE,
            recipient_id=recipient_id,
            channel="email",
            kind="digest",
            category="digest",
            day=day,
            status=ASSEMBLING,
            reason=f"daily digest at {at} local",
            due_at=now,
            created_at=now,
            updated_at=now,
        )

    # ------------------------------------------------------------------ transitions

    def deliver(self, result: SendResult, now: datetime) -> None:
        """The channel took it."""
        self._attempt(result, now)
        self.status, self.delivered_at, self.updated_at = DELIVERED, now, now
        self._record(NotificationDelivered, "delivered", now, attempts=self.attempt_count)

    def fail(self, result: SendResult, now: datetime, policy: RetryPolicy) -> bool:
        """An attempt failed: try again later (True) or give up (False) on the schedule."""
        self._attempt(result, now)
        delay = policy.delay(self.attempt_count, result)
        if delay is None:
            self._fail_for_good(result.error, now)
            return False
        self.status, self.due_at, self.updated_at = PENDING, now + timedelta(seconds=delay), now
        self.last_error = result.error
        return True

    def give_up(self, error: str, now: datetime) -> None:
        """Fail without trying (e.g. the recipient has no active address)."""
        self._fail_for_good(error, now)

    def defer(self, until: datetime, now: datetime) -> None:
        """Wait for the end of the recipient's quiet hours."""
        self.status, self.due_at, self.updated_at = PENDING, until, now
        self.reason = f"quiet hours: waits until {until.isoformat()}"

    def fold_into_digest(self, daily_cap: int, now: datetime) -> None:
        """The recipient had enough today: it goes out in their next digest instead."""
        self.status, self.digest_id, self.updated_at = DIGEST, None, now
        self.reason = f"daily cap of {daily_cap} reached: digest"

    def suppress(self, reason: str, now: datetime) -> None:
        """Drop it: it has become pointless or cannot be sent any more."""
        self.status, self.reason, self.updated_at = SUPPRESSED, reason, now

    # ------------------------------------------------------------------ recording

    def _attempt(self, result: SendResult, now: datetime) -> None:
        self.attempt_count += 1
        self.new_attempt = Attempt(
            self.attempt_count, now, result.ok, result.status_code, result.error
        )
        self.attempts.append(self.new_attempt)

    def _fail_for_good(self, error: str | None, now: datetime) -> None:
        self.status, self.updated_at, self.last_error = FAILED, now, error
        self._record(
            NotificationFailed,
            "failed",
            now,
            attempts=self.attempt_count,
            error=error or "failed",
            subscription_id=self.subscription_id,
        )

    def _record(
        self, event: type[EventPayload], outcome: str, now: datetime, **fields: object
    ) -> None:
        subject = self.notification_id or self.id
        payload = event.model_validate(
            {
                "notification_id": subject,
                "tenant": self.tenant,
                "event_id": self.event_id,
                "source_event_type": self.event_type,
                "recipient_id": self.recipient_id if self.channel != "webhook" else None,
                "channel": self.channel,
                "category": self.category,
                **fields,
            }
        )
        self.events.append(
            new_event(
                payload,
                tenant=self.tenant,
                subject=subject,
                source=SOURCE,
                id=deterministic_id("notification-outcome", self.id, outcome),
                time=now,
            )
        )
