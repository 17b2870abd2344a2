"""The weekly "update your key results" nudge on the real stack, driven by a settable clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from services.goals.common import GoalStore
from services.goals.reactions import GoalReactions
from services.goals.repository import GoalRepository
from services.goals.scheduler import ReviewScheduler
from shared.events.envelope import Envelope
from shared.events.kpi import KpiDatapointRecorded
from tests.doubles import SettableClock
from tests.integration.goals.helpers import Running, goal_events, goals_service, of_type
from tests.support import eventually, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def svc() -> AsyncIterator[Running]:
    clock = SettableClock(T0)
    async with goals_service(clock=clock) as running:
        running.clock = clock  # type: ignore[attr-defined]
        yield running


def clock_of(svc: Running) -> SettableClock:
    clock: SettableClock = svc.clock  # type: ignore[attr-defined]
    return clock


def scheduler(svc: Running) -> ReviewScheduler:
    """A scheduler replica on the service's goals and clock (its own lease holder)."""
    return ReviewScheduler(svc.app.state.reactions, interval_s=3600, lease_ttl_s=3600)


async def at(svc: Running, days: float, *replicas: ReviewScheduler) -> list[bool]:
    """Move the clock to T0 + ``days`` and run a round of each replica (default: a fresh one,
    stopped after its round so that it gives its lease back)."""
    clock_of(svc).now = T0 + timedelta(days=days)
    if replicas:
        return list(await asyncio.gather(*(r.tick() for r in replicas)))
    fresh = scheduler(svc)
    try:
        return [await fresh.tick()]
    finally:
        await fresh.stop()


async def create(svc: Running, tenant: str, status: str = "active", **body: Any) -> str:
    response = await svc.client.post(
        "/v1/goals",
        headers=svc.auth("pm", tenant=tenant),
        json={
            "title": "Learn UX design principles",
            "horizon": "short_term",
            "status": status,
            "key_results": [{"id": "talks", "title": "Talks", "start": 0, "target": 4}],
            **body,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def check_in(svc: Running, tenant: str, goal_id: str, value: float) -> str:
    response = await svc.client.post(
        f"/v1/goals/{goal_id}/check-ins",
        headers=svc.auth("pm", tenant=tenant),
        json={"key_results": {"talks": value}, "note": "progress"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["check_in_id"])


async def reminders_so_far(svc: Running, tenant: str, goal_id: str) -> list[Envelope]:
    """The goal's reminders so far, shown by evidence: a sentinel edit of its title (same key,
    so same partition, after them in the goal's outbox; an edit is no activity) is read, then
    the reminders before it are counted."""
    marker = unique("title-")
    edited = await svc.client.patch(
        f"/v1/goals/{goal_id}", headers=svc.auth("pm", tenant=tenant), json={"title": marker}
    )
    assert edited.status_code == 200, edited.text

    def sentinel_seen(events: list[Envelope]) -> bool:
        return any(e.data["title"] == marker for e in of_type(events, "updated", goal_id))

    events = await goal_events(svc, sentinel_seen)
    return of_type(events, "update_reminder_due", goal_id)


async def test_an_idle_active_goal_is_reminded_once_a_week_even_by_two_replicas(
    svc: Running,
) -> None:
    tenant = unique("nudge-")
    clock_of(svc).now = T0
    goal_id = await create(svc, tenant)
    first, second = scheduler(svc), scheduler(svc)
    for day in (6.9, 7, 7.01):  # two replicas, rounds every so often
        assert sorted(await at(svc, day, first, second)) == [False, True]  # one holds the lease
    for replica in (first, second):
        await replica.stop()  # a restart: the lease is given back
    for day in (8, 13.9):  # the rest of the week, on the restarted replica
        assert await at(svc, day) == [True]

    [due] = await reminders_so_far(svc, tenant, goal_id)
    assert due.data["week"] == "2026-W11"
    assert due.data["idle_days"] == 7
    assert due.data["stale_after_days"] == 7
    assert due.data["owner_id"] == "pm"


async def test_two_replicas_without_the_lease_still_publish_one_reminder(svc: Running) -> None:
    """Should two replicas both work (a lease lost to a paused process), the versioned save and
    the deterministic event id still let one reminder through."""
    tenant = unique("nudge-")
    clock_of(svc).now = T0
    goal_id = await create(svc, tenant)
    live = svc.app.state.reactions
    other = GoalReactions(
        GoalStore(
            GoalRepository(svc.app.state.runtime.db),
            default_margin=0.15,
            notify=live.store.notify,
            clock=clock_of(svc),
        )
    )
    now = T0 + timedelta(days=7)
    clock_of(svc).now = now
    await asyncio.gather(*(r.emit_update_reminders(now) for r in (live, other, live, other)))
    [due] = await reminders_so_far(svc, tenant, goal_id)
    assert due.data["week"] == "2026-W11"


async def test_the_reminder_comes_back_the_next_week_while_the_goal_stays_idle(
    svc: Running,
) -> None:
    tenant = unique("nudge-")
    clock_of(svc).now = T0
    goal_id = await create(svc, tenant)
    for day in (7, 10, 14, 15, 20.9, 21):
        await at(svc, day)
    reminders = await reminders_so_far(svc, tenant, goal_id)
    assert [e.data["week"] for e in reminders] == ["2026-W11", "2026-W12", "2026-W13"]


async def test_a_check_in_or_kpi_movement_within_n_days_skips_the_reminder(svc: Running) -> None:
    tenant = unique("nudge-")
    clock_of(svc).now = T0
    checked = await create(svc, tenant)
    bound = await create(
        svc,
        tenant,
        key_results=[
            {
                "id": "adoption",
                "title": "Adoption",
                "start": 0,
                "target": 100,
                "source": {"kpi": {"metric": "adoption_rate", "aggregation": "latest"}},
            }
        ],
    )
    clock_of(svc).now = T0 + timedelta(days=5)
    await check_in(svc, tenant, checked, 1)
    point = KpiDatapointRecorded(
        id=unique("dp"),
        tenant=tenant,
        metric="adoption_rate",
        value=30,
        timestamp=T0 + timedelta(days=5),
        source_id="segment",
        source_event_id=unique("src"),
    )
    await svc.publish(point, f"{tenant}:adoption_rate")

    async def moved() -> bool:
        r = await svc.client.get(f"/v1/goals/{bound}", headers=svc.auth("pm", tenant=tenant))
        return bool(r.json()["progress"] > 0)

    await eventually(moved)
    for day in (7, 9, 11.9):
        await at(svc, day)
    assert await reminders_so_far(svc, tenant, checked) == []

    # the count restarts at the activity: idle N days after it, the reminder comes
    await at(svc, 12)
    [due] = await reminders_so_far(svc, tenant, checked)
    assert due.data["idle_days"] == 7
    events = await goal_events(svc, lambda es: bool(of_type(es, "update_reminder_due", bound)))
    [kpi_due] = of_type(events, "update_reminder_due", bound)
    assert kpi_due.data["last_activity_at"].startswith("2026-03-07T09:00:00")


async def test_drafts_achieved_and_abandoned_goals_are_never_reminded(svc: Running) -> None:
    tenant = unique("nudge-")
    clock_of(svc).now = T0
    draft = await create(svc, tenant, status="draft")
    achieved = await create(svc, tenant)
    abandoned = await create(svc, tenant)
    idle = await create(svc, tenant)  # the control: reminded in the same rounds
    auth = svc.auth("pm", tenant=tenant)
    done = await svc.client.post(
        f"/v1/goals/{achieved}/status", headers=auth, json={"status": "achieved"}
    )
    assert done.status_code == 200, done.text
    dropped = await svc.client.post(
        f"/v1/goals/{abandoned}/status", headers=auth, json={"status": "abandoned"}
    )
    assert dropped.status_code == 200, dropped.text

    for day in (8, 30, 60):
        await at(svc, day)

    assert len(await reminders_so_far(svc, tenant, idle)) == 3  # the control: each time
    repo = svc.app.state.reactions.repo
    for goal_id in (draft, achieved, abandoned):
        # a reminder is written in the same update as this state (the goal's outbox)
        goal = await repo.get(tenant, goal_id)
        assert goal.update_reminded_at is None, goal.status
    events = await goal_events(svc)
    for goal_id in (draft, achieved, abandoned):
        assert of_type(events, "update_reminder_due", goal_id) == []


async def test_the_tenants_n_is_validated_and_decides_when_a_goal_is_idle(svc: Running) -> None:
    tenant = unique("nudge-")
    clock_of(svc).now = T0
    hr = svc.auth("hr", "hr_admin", tenant=tenant)
    for bad in (0, -3, 91, "7", 2.5, None):
        body = {"update_reminder_days": bad}
        r = await svc.client.put("/v1/goal-settings", headers=hr, json=body)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    not_hr = await svc.client.put(
        "/v1/goal-settings", headers=svc.auth("pm", tenant=tenant), json={"update_reminder_days": 3}
    )
    assert not_hr.status_code == 403
    current = await svc.client.get("/v1/goal-settings", headers=hr)
    assert current.json() == {"at_risk_margin": 0.15, "update_reminder_days": 7}  # unchanged

    goal_id = await create(svc, tenant)
    await at(svc, 2.9)
    assert await reminders_so_far(svc, tenant, goal_id) == []
    set_n = await svc.client.put("/v1/goal-settings", headers=hr, json={"update_reminder_days": 3})
    assert set_n.status_code == 200, set_n.text
    assert set_n.json() == {"at_risk_margin": 0.15, "update_reminder_days": 3}
    await at(svc, 2.95)
    assert await reminders_so_far(svc, tenant, goal_id) == []
    await at(svc, 3)  # 3 idle days since the activation
    [due] = await reminders_so_far(svc, tenant, goal_id)
    assert due.data["stale_after_days"] == 3
