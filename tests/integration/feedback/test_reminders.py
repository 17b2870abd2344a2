"""Reminders of open feedback requests on the real stack, sent by the request scheduler as the
settable clock moves: once each, three days in and a day before expiry, only to open reviewers."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from services.feedback.service import FeedbackRequests
from shared.events import Envelope
from tests.integration.feedback.conftest import START, Env, due
from tests.support import eventually, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ORG = {"boss": None, "pm": "boss", "r1": "boss", "r2": "boss", "r3": "boss"}
RATINGS = {"ratings": {"ux_design": 4}}
REMINDER = "northstar.feedback.reminder_due.v1"


async def ask(env: Env, tenant: str, reviewers: list[str], **extra: Any) -> str:
    body = {
        "subject_id": "pm",
        "reviewers": [{"person_id": r, "relationship": "peer"} for r in reviewers],
        "skills": ["ux_design"],
        "due_date": due(env, 7),
        **extra,
    }
    created = await env.call("POST", "/v1/feedback-requests", (tenant, "pm"), json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def answer(env: Env, tenant: str, request_id: str, who: str) -> None:
    url = f"/v1/feedback-requests/{request_id}/responses"
    response = await env.call("POST", url, (tenant, who), json=RATINGS)
    assert response.status_code == 201, response.text


async def decline(env: Env, tenant: str, request_id: str, who: str) -> None:
    url = f"/v1/feedback-requests/{request_id}/decline"
    response = await env.call("POST", url, (tenant, who))
    assert response.status_code == 200, response.text


def reminders(events: list[Envelope], request_id: str) -> list[tuple[str, str]]:
    return sorted(
        (e.data["reminder"], e.data["reviewer_id"])
        for e in events
        if e.type == REMINDER and e.data["request_id"] == request_id
    )


async def stored(env: Env, tenant: str, request_id: str) -> Any:
    return await env.app.state.feedback_requests._requests.get(tenant, request_id)


async def test_open_reviewers_are_reminded_once_three_days_in_and_a_day_before_expiry(
    env: Env,
) -> None:
    tenant = unique("rem-")
    await env.org(tenant, ORG)
    request_id = await ask(env, tenant, ["r1", "r2", "r3"])
    answered = await ask(env, tenant, ["r1"])  # everyone answers: never reminded
    await answer(env, tenant, answered, "r1")
    await answer(env, tenant, request_id, "r1")
    await decline(env, tenant, request_id, "r2")

    env.clock.now = START + timedelta(days=2, hours=23)
    assert await env.app.state.feedback_requests.remind_due() == 0  # not yet
    env.clock.now = START + timedelta(days=3)  # the scheduler (every 0.2 s) sends it
    events = await env.feedback_events(tenant, expected=4 + 2 + 1 + 1)
    assert reminders(events, request_id) == [("still_open", "r3")]
    for _ in range(3):  # more rounds, same instant and later the same day: nothing again
        assert await env.app.state.feedback_requests.remind_due() == 0
    env.clock.now = START + timedelta(days=3, hours=6)
    assert await env.app.state.feedback_requests.remind_due() == 0

    day_before = datetime.combine(START.date() + timedelta(days=7), time(0), UTC)
    env.clock.now = day_before  # a day before the end of the due date
    await eventually(lambda: _reminded(env, tenant, request_id, "expires_soon"))
    assert await env.app.state.feedback_requests.remind_due() == 0
    await answer(env, tenant, request_id, "r3")  # the sentinel: after the reminders, same key

    events = await env.feedback_events(tenant, expected=4 + 3 + 1 + 2)
    assert reminders(events, request_id) == [("expires_soon", "r3"), ("still_open", "r3")]
    assert reminders(events, answered) == []
    assert (await stored(env, tenant, answered)).reminded == []  # written with its events


async def _reminded(env: Env, tenant: str, request_id: str, reminder: str) -> bool:
    return reminder in (await stored(env, tenant, request_id)).reminded


async def test_an_anonymous_request_reminds_only_who_has_not_answered(env: Env) -> None:
    tenant = unique("rem-")
    await env.org(tenant, ORG)
    request_id = await ask(env, tenant, ["r1", "r2", "r3"], anonymous=True, min_responses=3)
    await answer(env, tenant, request_id, "r2")
    env.clock.now = START + timedelta(days=3)
    events = await env.feedback_events(tenant, expected=3 + 1 + 2)
    assert reminders(events, request_id) == [("still_open", "r1"), ("still_open", "r3")]
    for event in events:
        if event.type == REMINDER:  # addressed to one reviewer, like feedback.requested
            assert event.data["anonymous"] is True
            assert event.subject == request_id


async def test_an_overdue_or_expired_request_gets_no_reminder(env: Env) -> None:
    tenant = unique("rem-")
    await env.org(tenant, ORG)
    request_id = await ask(env, tenant, ["r1"], due_date=due(env, 2))
    # overdue but not yet expired: the use case on a clock past the due date (the service's
    # own scheduler stays at START, so it cannot expire the request first)
    live = env.app.state.feedback_requests
    late = FeedbackRequests(
        live._requests,
        live._sharing,
        live._directory,
        live._policy,
        clock=lambda: START + timedelta(days=30),
    )
    assert await late.remind_due() == 0
    assert (await stored(env, tenant, request_id)).status == "open"

    env.clock.now = START + timedelta(days=30)  # the job was away past both reminders
    await eventually(lambda: _status(env, tenant, request_id, "expired"))
    assert await live.remind_due() == 0
    events = await env.feedback_events(tenant, expected=2)
    assert reminders(events, request_id) == []


async def _status(env: Env, tenant: str, request_id: str, status: str) -> bool:
    return bool((await stored(env, tenant, request_id)).status == status)
