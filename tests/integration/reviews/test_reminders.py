"""Review step reminders: each published once, never once its step is done (real servers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.reviews.scheduler import ReminderScheduler
from tests.integration.reviews.conftest import SKILLS, Env, cycle_body
from tests.support import unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ORG: dict[str, tuple[str | None, str | None]] = {
    "hr": (None, "People"),
    "boss": (None, "Design"),
    "ada": ("boss", "Product"),
    "bob": ("boss", "Product"),
}


def reminders(events: list[Any]) -> list[tuple[str, str, str]]:
    return sorted(
        (e.data["person_id"] or "-", e.data["step"], e.data["recipient_id"])
        for e in events
        if e.type == "northstar.review.reminder_due.v1"
    )


async def test_each_step_is_reminded_once_and_not_after_it_is_done(env: Env) -> None:
    tenant = unique("remind-")
    await env.org(tenant, ORG)
    scheduler = ReminderScheduler(env.app.state.reviews, holder=unique("holder-"))
    created = await env.call(
        "POST",
        "/v1/review-cycles",
        (tenant, "hr"),
        "hr_admin",
        json=cycle_body({"kind": "department", "value": "Product"}),
    )
    cycle = created.json()
    await env.call("POST", f"/v1/review-cycles/{cycle['id']}/launch", (tenant, "hr"), "hr_admin")
    reviews = {
        r["person_id"]: r["id"]
        for r in (
            await env.call("GET", f"/v1/reviews?cycle_id={cycle['id']}", (tenant, "hr"), "hr_admin")
        ).json()["items"]
    }
    # bob writes his self review and nominates peers early: nothing of his is reminded
    await env.call(
        "PUT",
        f"/v1/reviews/{reviews['bob']}/self-review",
        (tenant, "bob"),
        json={"ratings": dict.fromkeys(SKILLS, 3)},
    )
    await env.call(
        "PUT", f"/v1/reviews/{reviews['bob']}/peers", (tenant, "bob"), json={"peer_ids": ["ada"]}
    )

    assert await scheduler.tick()  # day 0: every deadline is more than 3 days away
    env.clock.advance(timedelta(days=8))  # self review due on day 10, peers on 12
    assert await scheduler.tick()
    assert await scheduler.tick()  # the same day again: nothing twice
    env.clock.advance(timedelta(days=1))
    assert await scheduler.tick()
    # the manager approves bob's peers and writes ada's review before its window opens
    await env.call("POST", f"/v1/reviews/{reviews['bob']}/peers/approve", (tenant, "boss"), json={})
    await env.call(
        "PUT",
        f"/v1/reviews/{reviews['ada']}/manager-review",
        (tenant, "boss"),
        json={"ratings": {}, "overall_rating": 3, "summary": "Fine"},
    )
    env.clock.advance(timedelta(days=9))  # day 18: manager reviews due on day 20
    assert await scheduler.tick()
    await env.call(
        "POST", f"/v1/review-cycles/{cycle['id']}/close-calibration", (tenant, "hr"), "hr_admin"
    )
    env.clock.advance(timedelta(days=5))  # day 23: calibration due on 25, but done
    assert await scheduler.tick()
    env.clock.advance(timedelta(days=4))  # day 27: release due on 30
    assert await scheduler.tick()

    events = await env.review_events(tenant, expected=1 + 2 + 4 + 5, linger_s=1.5)
    assert reminders(events) == sorted(
        [
            ("ada", "self_review", "ada"),
            ("ada", "peer_feedback", "ada"),  # to nominate
            ("bob", "peer_feedback", "boss"),  # to approve: nominated, not approved by day 9
            ("bob", "manager_review", "boss"),
            ("-", "release", "hr"),
        ]
    )
    # the calibration step was done before its window: never reminded
    assert not [e for e in events if e.data.get("step") == "calibration"]
