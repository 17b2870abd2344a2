"""Nudges through notifications on the real stack: held by quiet hours, and dropped if moot by
the time they would go out, while the ones still useful are sent."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shared.events.feedback import FeedbackReminderDue, FeedbackRequestExpired, FeedbackSubmitted
from shared.events.goals import GoalCheckedIn, GoalProgressUpdated, GoalUpdateReminderDue
from tests.integration.notifications.conftest import START, Service
from tests.integration.notifications.receivers import SmtpSink
from tests.integration.notifications.test_preferences_and_inbox import (
    _deferred,
    put_prefs,
    sentinel_email,
)
from tests.support import eventually, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

MADE = datetime(2026, 3, 9, 22, tzinfo=UTC)  # when goals / feedback made the reminders
LATER = MADE + timedelta(hours=1)


def goal(tenant: str, goal_id: str, title: str) -> dict[str, object]:
    return {
        "goal_id": goal_id,
        "tenant": tenant,
        "owner_id": "ada",
        "title": title,
        "horizon": "short_term",
        "status": "active",
    }


def nudge(tenant: str, goal_id: str, title: str) -> GoalUpdateReminderDue:
    return GoalUpdateReminderDue(
        **goal(tenant, goal_id, title), idle_days=8, stale_after_days=7, week="2026-W11"
    )


def reminder(tenant: str, request_id: str, anonymous: bool = False) -> FeedbackReminderDue:
    return FeedbackReminderDue(
        request_id=request_id,
        tenant=tenant,
        subject_id="sam",
        requester_id="sam",
        reviewer_id="ada",
        reminder="still_open",
        due_date=date(2026, 3, 14),
        expires_at=datetime(2026, 3, 15, tzinfo=UTC),
        anonymous=anonymous,
    )


async def email_status(service: Service, tenant: str, event_id: str) -> tuple[str, str]:
    [row] = [r for r in await service.deliveries(tenant, event_id) if r["channel"] == "email"]
    return row["status"], row["reason"]


async def test_nudges_held_by_quiet_hours_are_dropped_once_moot_and_the_others_sent(
    service: Service, smtp: SmtpSink
) -> None:
    service.clock.set(START)  # 08:00 UTC, inside ada's quiet hours
    tenant = unique("t")
    address = await service.person(tenant, "ada", tz="UTC")
    quiet = {"quiet_hours": {"start": "07:00", "end": "09:00"}}
    assert (await put_prefs(service, tenant, "ada", quiet)).status_code == 200

    checked = await service.publish(
        nudge(tenant, "g1", "Checked in"), tenant=tenant, subject="g1", time=MADE
    )
    moved = await service.publish(
        nudge(tenant, "g2", "KPI moved"), tenant=tenant, subject="g2", time=MADE
    )
    idle = await service.publish(
        nudge(tenant, "g3", "Still idle"), tenant=tenant, subject="g3", time=MADE
    )
    answered = await service.publish(
        reminder(tenant, "fr1"), tenant=tenant, subject="fr1", time=MADE
    )
    expired = await service.publish(
        reminder(tenant, "fr2", anonymous=True), tenant=tenant, subject="fr2", time=MADE
    )
    waiting = await service.publish(
        reminder(tenant, "fr3"), tenant=tenant, subject="fr3", time=MADE
    )
    held = [checked, moved, idle, answered, expired, waiting]
    for event in held:
        await eventually(lambda e=event: _deferred(service, tenant, e.id))

    # meanwhile: a check-in, KPI movement, an answer, an anonymous request's expiry (no name)
    await service.publish(
        GoalCheckedIn(**goal(tenant, "g1", "Checked in"), check_in_id="c1", by="ada"),
        tenant=tenant,
        subject="g1",
        time=LATER,
    )
    await service.publish(
        GoalProgressUpdated(
            **goal(tenant, "g2", "KPI moved"),
            old_progress=0.1,
            new_progress=0.2,
            cause={"kind": "kpi", "metric": "adoption"},
        ),
        tenant=tenant,
        subject="g2",
        time=LATER,
    )
    await service.publish(
        FeedbackSubmitted(
            request_id="fr1",
            tenant=tenant,
            subject_id="sam",
            requester_id="sam",
            anonymous=False,
            reviewer_id="ada",
        ),
        tenant=tenant,
        subject="fr1",
        time=LATER,
    )
    await service.publish(
        FeedbackRequestExpired(
            request_id="fr2", tenant=tenant, subject_id="sam", requester_id="sam", open_count=2
        ),
        tenant=tenant,
        subject="fr2",
        time=LATER,
    )
    await eventually(lambda: _suppressed(service, tenant, checked.id))
    await eventually(lambda: _suppressed(service, tenant, moved.id))
    await eventually(lambda: _suppressed(service, tenant, answered.id))
    # the anonymous expiry names nobody: that reminder still waits, to be dropped at send time
    assert (await email_status(service, tenant, expired.id))[0] == "pending"

    service.clock.advance(timedelta(hours=1, minutes=5))  # quiet hours are over
    await sentinel_email(service, smtp, tenant)  # due after the held ones: they were processed

    subjects = sorted(m["Subject"] for m in smtp.to(address))
    assert subjects == [
        "Reminder: your feedback is requested",
        "Update your key results: Still idle",
    ]
    assert (await email_status(service, tenant, idle.id))[0] == "delivered"
    assert (await email_status(service, tenant, waiting.id))[0] == "delivered"
    assert await email_status(service, tenant, expired.id) == (
        "suppressed",
        "the feedback request expired",
    )
    assert (await email_status(service, tenant, checked.id))[1] == "the goal was checked in since"
    assert (await email_status(service, tenant, moved.id))[1] == "a KPI moved the goal since"
    inbox = await service.inbox(tenant, "ada")
    assert {i["category"] for i in inbox["items"]} == {"nudge"}


async def _suppressed(service: Service, tenant: str, event_id: str) -> bool:
    return (await email_status(service, tenant, event_id))[0] == "suppressed"
