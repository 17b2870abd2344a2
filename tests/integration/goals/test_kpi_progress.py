"""KPI data points on the real broker move bound key results exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.events.kpi import KpiDatapointRecorded
from tests.integration.goals.helpers import Running, goal_events, goals_service, of_type
from tests.support import after_sentinel, eventually

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0)
# ``sum`` counts only points inside the goal's period, which starts on its start date (the
# day it is created, by default): T0 is taken when the suite starts, maybe before midnight
START = (T0 - timedelta(days=1)).date().isoformat()


def datapoint(
    dp_id: str, value: float, minutes: int, product: str = "mobile"
) -> KpiDatapointRecorded:
    return KpiDatapointRecorded(
        id=dp_id,
        tenant="acme",
        metric="adoption_rate",
        value=value,
        timestamp=T0 + timedelta(minutes=minutes),
        dimensions={"product": product, "region": "eu"},
        source_id="segment",
        source_event_id=f"src-{dp_id}",
    )


async def create_bound_goal(
    svc: Running,
    aggregation: str,
    filters: dict[str, str] | None = None,
    target: float = 100,
    status: str = "active",
) -> str:
    response = await svc.client.post(
        "/v1/goals",
        headers=svc.auth("pm"),
        json={
            "title": "Drive mobile adoption",
            "horizon": "short_term",
            "category": "outcome",
            "status": status,
            "start_date": START,
            "feedback_reviewer_ids": ["mentor-1"],
            "key_results": [
                {
                    "id": "adoption",
                    "title": "Mobile adoption",
                    "start": 0,
                    "target": target,
                    "source": {
                        "kpi": {
                            "metric": "adoption_rate",
                            "filters": filters or {"product": "mobile"},
                            "aggregation": aggregation,
                        }
                    },
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def progress_of(svc: Running, goal_id: str) -> float:
    response = await svc.client.get(f"/v1/goals/{goal_id}", headers=svc.auth("pm"))
    return float(response.json()["progress"])


async def current_of(svc: Running, goal_id: str) -> float:
    response = await svc.client.get(f"/v1/goals/{goal_id}", headers=svc.auth("pm"))
    return float(response.json()["key_results"][0]["current"])


async def test_datapoints_move_a_bound_key_result_and_fire_each_milestone_once() -> None:
    async with goals_service() as svc:
        latest = await create_bound_goal(svc, "latest")
        summed = await create_bound_goal(svc, "sum")
        # every point of the region, summed far below its target: a point counted twice shows
        tally = await create_bound_goal(svc, "sum", {"region": "eu"}, target=1000)

        first = await svc.publish(datapoint("dp-30", 30, 1), "acme:adoption_rate")
        await svc.producer.publish(first)  # the same record delivered twice
        await svc.publish(datapoint("dp-80", 80, 3), "acme:adoption_rate")
        await svc.publish(datapoint("dp-50-late", 50, 2), "acme:adoption_rate")  # out of order
        await svc.publish(datapoint("dp-web", 99, 4, product="web"), "acme:adoption_rate")

        # the tally sees every point; dp-web, the last on the key, is in once it reaches 259
        async def settled() -> bool:
            return await current_of(svc, tally) >= 259

        await eventually(settled, timeout=30)
        assert await current_of(svc, tally) == 259  # 30 + 80 + 50 + 99, each once
        # latest: 80 stays (the older 50 arrived late); sum: 30 + 80 reach the target, and the
        # achieved goal takes no more
        assert await progress_of(svc, latest) == 0.8
        assert await progress_of(svc, summed) == 1.0
        # a redelivery after everything settled changes nothing; shown by a sentinel point on
        # the same key (so consumed after it), whose effect on the tally is awaited
        await svc.producer.publish(first)

        async def sentinel() -> None:
            await svc.publish(datapoint("dp-sentinel", 10, 5, "other"), "acme:adoption_rate")

        async def sentinel_applied() -> bool:
            return await current_of(svc, tally) >= 269

        await after_sentinel(sentinel, sentinel_applied)
        events = await goal_events(svc, lambda es: bool(of_type(es, "achieved")))

        assert await current_of(svc, tally) == 269  # 259 + the sentinel: dp-30 once
        assert await current_of(svc, summed) == 110
        latest_goal = (await svc.client.get(f"/v1/goals/{latest}", headers=svc.auth("pm"))).json()
        assert latest_goal["key_results"][0]["current"] == 80
        milestones = [e.data["milestone"] for e in of_type(events, "milestone_reached", latest)]
        assert sorted(milestones) == ["0.25", "0.5", "0.75"]
        assert [e.data["new_progress"] for e in of_type(events, "progress_updated", latest)] == [
            0.3,
            0.8,
        ]

        summed_milestones = [
            e.data["milestone"] for e in of_type(events, "milestone_reached", summed)
        ]
        assert sorted(summed_milestones) == ["0.25", "0.5", "0.75", "1.0"]
        [achieved] = of_type(events, "achieved", summed)
        assert achieved.data["bound_metrics"] == ["adoption_rate"]
        assert achieved.data["feedback_reviewer_ids"] == ["mentor-1"]

        timeline = (
            await svc.client.get(f"/v1/goals/{latest}/timeline", headers=svc.auth("pm"))
        ).json()["items"]
        causes = [e["cause"] for e in timeline if e["kind"] == "progress"]
        assert [c["datapoint_id"] for c in causes if c["kind"] == "kpi"] == ["dp-30", "dp-80"]
        assert causes[-1] == {
            "kind": "kpi",
            "datapoint_id": "dp-80",
            "source_id": "segment",
            "metric": "adoption_rate",
        }


async def test_a_drafts_kpi_progress_moves_and_its_milestones_wait_for_activation() -> None:
    async with goals_service() as svc:
        draft = await create_bound_goal(svc, "latest", status="draft")
        await svc.publish(datapoint("dp-draft-60", 60, 1), "acme:adoption_rate")

        async def moved() -> bool:
            return await progress_of(svc, draft) == 0.6

        await eventually(moved, timeout=30)
        activated = await svc.client.post(
            f"/v1/goals/{draft}/status", headers=svc.auth("pm"), json={"status": "active"}
        )
        assert activated.status_code == 200, activated.text
        await svc.publish(datapoint("dp-active-80", 80, 2), "acme:adoption_rate")
        # the milestones of one point ride in one goal update: all are on the topic together
        events = await goal_events(svc, lambda es: bool(of_type(es, "milestone_reached", draft)))
        # 25 % and 50 % passed while drafting: the starting point, not celebrated
        assert [e.data["milestone"] for e in of_type(events, "milestone_reached", draft)] == [
            "0.75"
        ]
        assert [e.data["new_progress"] for e in of_type(events, "progress_updated", draft)] == [
            0.6,
            0.8,
        ]
