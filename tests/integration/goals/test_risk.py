"""The scheduler's risk assessment: time passing puts a goal that trails its period at risk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.goals.scheduler import LEASE
from tests.integration.goals.helpers import Running, goal_events, goals_service, of_type
from tests.integration.goals.test_reviews import replica

pytestmark = pytest.mark.integration


async def create(svc: Running, **body: object) -> str:
    response = await svc.client.post(
        "/v1/goals",
        headers=svc.auth("pm"),
        json={
            "title": "Goal",
            "horizon": "short_term",
            "status": "active",
            "key_results": [{"id": "k", "title": "Things", "target": 10}],
            **body,
        },
    )
    assert response.status_code == 201, response.text
    goal_id = str(response.json()["id"])
    assert response.json()["at_risk"] is False
    return goal_id


async def at_risk(svc: Running, goal_id: str) -> bool:
    body = (await svc.client.get(f"/v1/goals/{goal_id}", headers=svc.auth("pm"))).json()
    return bool(body["at_risk"])


async def test_the_scheduler_flags_a_goal_trailing_its_period_once_and_no_other() -> None:
    today = datetime.now(UTC).date()  # the service's clock is UTC
    period = {"start_date": today.isoformat(), "due_date": (today + timedelta(days=10)).isoformat()}
    async with goals_service() as svc:
        behind = await create(svc, **period)
        on_track = await create(svc, **period)
        no_period = await create(svc)
        check_in = await svc.client.post(
            f"/v1/goals/{on_track}/check-ins",
            headers=svc.auth("pm"),
            json={"key_results": {"k": 9}},
        )
        assert check_in.status_code == 201, check_in.text

        # eight days later 80% of the period is gone: 0% done trails it, 90% does not
        later = replica(svc, 8)
        assert await later.tick()
        assert await at_risk(svc, behind)
        assert not await at_risk(svc, on_track)
        assert not await at_risk(svc, no_period)

        # the next rounds, the same day and (on another replica) a day on, flag nothing again
        assert await later.tick()
        await later.repo.release_lease(LEASE, later.holder)
        assert await replica(svc, 9).tick()
        assert await at_risk(svc, behind)

        # the sentinel: a check-in on the flagged goal, on its key after the rounds above
        sentinel = await svc.client.post(
            f"/v1/goals/{behind}/check-ins",
            headers=svc.auth("pm"),
            json={"key_results": {"k": 1}},
        )
        assert sentinel.status_code == 201, sentinel.text
        events = await goal_events(svc, lambda es: bool(of_type(es, "progress_updated", behind)))
        [flagged] = of_type(events, "at_risk")
        assert flagged.subject == behind
        assert flagged.data["expected_progress"] == pytest.approx(0.8)


async def test_a_goal_assessed_today_is_left_to_tomorrows_round() -> None:
    # activation and every progress change assess risk: the scheduler's daily look need not
    # read the goal again the same day (at 1,000 new goals, 1,000 reads and writes)
    today = datetime.now(UTC).date()
    async with goals_service() as svc:
        repo = svc.app.state.reactions.repo
        goal_id = await create(svc)
        assert goal_id not in {g for _, g in await repo.risk_unchecked(today)}
        assert goal_id in {g for _, g in await repo.risk_unchecked(today + timedelta(days=1))}
