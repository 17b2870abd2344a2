"""The delivery state machine on its own: each transition, what it records, and when it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifications.delivery import (
    DELIVERED,
    DIGEST,
    FAILED,
    PENDING,
    SUPPRESSED,
    Delivery,
    RetryPolicy,
    SendResult,
)
from shared.events.notifications import NotificationDelivered, NotificationFailed

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
POLICY = RetryPolicy(schedule=[0, 5, 300], max_retry_after_s=60)


def webhook() -> Delivery:
    return Delivery.webhook(
        tenant="acme",
        event_id="e1",
        event_type="northstar.goal.achieved.v1",
        category="celebration",
        subscription_id="s1",
        body="{}",
        now=NOW,
    )


def test_delivering_records_the_attempt_and_notification_delivered() -> None:
    d = webhook()
    d.deliver(SendResult(True, 200), NOW)
    assert (d.status, d.delivered_at, d.attempt_count) == (DELIVERED, NOW, 1)
    assert d.new_attempt is not None
    assert d.new_attempt.status_code == 200
    [event] = d.events
    assert event.type == NotificationDelivered.event_type
    assert event.data["recipient_id"] is None  # a webhook has a subscription, not a person
    assert event.subject == d.id


def test_the_outcome_event_id_is_the_same_on_a_retry_of_the_same_transition() -> None:
    first, second = webhook(), webhook()
    first.deliver(SendResult(True), NOW)
    second.deliver(SendResult(True), NOW + timedelta(seconds=1))
    assert first.events[0].id == second.events[0].id


def test_a_failure_waits_on_the_schedule_and_the_last_one_gives_up() -> None:
    d = webhook()
    assert d.fail(SendResult(False, 503, "down"), NOW, POLICY)
    assert (d.status, d.due_at, d.last_error, d.events) == (
        PENDING,
        NOW + timedelta(seconds=5),
        "down",
        [],
    )
    assert d.fail(SendResult(False, 503, "down", retry_after=120), NOW, POLICY)
    assert d.due_at == NOW + timedelta(seconds=300)  # the schedule is longer than Retry-After
    assert not d.fail(SendResult(False, 503, "down"), NOW, POLICY)
    assert (d.status, d.attempt_count) == (FAILED, 3)
    [event] = d.events
    assert event.type == NotificationFailed.event_type
    assert (event.data["error"], event.data["subscription_id"]) == ("down", "s1")


def test_a_permanent_failure_or_a_gone_receiver_ends_at_once() -> None:
    for result in (
        SendResult(False, 400, "bad", permanent=True),
        SendResult(False, 410, gone=True),
    ):
        d = webhook()
        assert not d.fail(result, NOW, POLICY)
        assert d.status == FAILED


def test_defer_fold_and_suppress_leave_no_attempt_and_no_event() -> None:
    deferred, folded, dropped = webhook(), webhook(), webhook()
    deferred.defer(NOW + timedelta(hours=2), NOW)
    folded.fold_into_digest(20, NOW)
    dropped.suppress("the goal is achieved", NOW)
    assert (deferred.status, deferred.due_at) == (PENDING, NOW + timedelta(hours=2))
    assert (folded.status, folded.reason) == (DIGEST, "daily cap of 20 reached: digest")
    assert (dropped.status, dropped.reason) == (SUPPRESSED, "the goal is achieved")
    for d in (deferred, folded, dropped):
        assert (d.attempt_count, d.new_attempt, d.events) == (0, None, [])


def test_a_digest_is_assembling_until_its_items_are_gathered() -> None:
    digest = Delivery.digest(
        tenant="acme", recipient_id="ada", day="2026-03-10", at="09:00", now=NOW
    )
    assert (digest.status, digest.kind, digest.channel) == ("assembling", "digest", "email")
    assert (
        digest.id
        == Delivery.digest(
            tenant="acme", recipient_id="ada", day="2026-03-10", at="09:00", now=NOW
        ).id
    )  # one digest per person and local day
