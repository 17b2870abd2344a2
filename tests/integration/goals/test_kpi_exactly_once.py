"""A KPI data point moves a bound key result exactly once, however often it is delivered.

Every duplicate here would change the outcome if it counted: the ``sum`` goal's target is far
above the sum (a second count shows in ``current`` and in the progress), and the ``latest`` goal's
duplicate carries a NEWER timestamp than anything applied (as a point re-stamped on resend would),
so the timestamp rule cannot stop it and only the goal's applied-point guard does. Absence is shown
by evidence: a sentinel point on the same key is sent after the duplicates and its effect awaited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app as create_kpi_ingest
from shared.events.kpi import KpiDatapointRecorded
from shared.messaging.outbox import unpacked
from shared.webhooks import signed_headers
from tests.integration.goals.helpers import Running, goal_events, goals_service, of_type
from tests.support import after_sentinel, bearer, isolated_settings, running, unique

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
# ``sum`` counts only points inside the goal's period, which starts on its start date (today
# by default): an hour ago is yesterday between 00:00 and 01:00 UTC, so the period starts earlier
START = (T0 - timedelta(days=1)).date().isoformat()
KEY = "acme:adoption_rate"


def point(dp_id: str, value: float, minutes: int) -> KpiDatapointRecorded:
    return KpiDatapointRecorded(
        id=dp_id,
        tenant="acme",
        metric="adoption_rate",
        value=value,
        timestamp=T0 + timedelta(minutes=minutes),
        dimensions={"product": "mobile"},
        source_id="segment",
        source_event_id=f"src-{dp_id}",
    )


async def bound_goal(svc: Running, aggregation: str, target: float) -> str:
    response = await svc.client.post(
        "/v1/goals",
        headers=svc.auth("pm"),
        json={
            "title": f"Adoption ({aggregation})",
            "horizon": "short_term",
            "category": "outcome",
            "status": "active",
            "start_date": START,
            "key_results": [
                {
                    "id": "adoption",
                    "title": "Mobile adoption",
                    "start": 0,
                    "target": target,
                    "source": {
                        "kpi": {
                            "metric": "adoption_rate",
                            "filters": {"product": "mobile"},
                            "aggregation": aggregation,
                        }
                    },
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def goal(svc: Running, goal_id: str) -> dict[str, Any]:
    response = await svc.client.get(f"/v1/goals/{goal_id}", headers=svc.auth("pm"))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def kpi_moves(svc: Running, goal_id: str) -> list[tuple[str, float]]:
    """(data point id, value) of every progress entry a KPI point wrote, in order."""
    response = await svc.client.get(
        f"/v1/goals/{goal_id}/timeline", params={"limit": 200}, headers=svc.auth("pm")
    )
    assert response.status_code == 200, response.text
    return [
        (e["cause"]["datapoint_id"], e["value"])
        for e in response.json()["items"]
        if e["kind"] == "progress" and e["cause"]["kind"] == "kpi"
    ]


async def test_a_redelivered_point_counts_once_in_sum_and_latest() -> None:
    async with goals_service() as svc:
        summed = await bound_goal(svc, "sum", target=1000)
        latest = await bound_goal(svc, "latest", target=100)

        first = await svc.publish(point("dp-1", 30, 1), KEY)
        await svc.producer.publish(first)  # the very same record, delivered twice
        await svc.publish(point("dp-1", 30, 1), KEY)  # the same point in a new envelope
        # the same point id re-stamped newer and with another value: not older, so under
        # ``latest`` only the applied-point guard can keep it out
        await svc.publish(point("dp-1", 70, 5), KEY)
        await svc.publish(point("dp-2", 20, 3), KEY)

        async def sentinel() -> None:
            await svc.publish(point("dp-sentinel", 5, 10), KEY)

        async def sentinel_applied() -> bool:
            return ("dp-sentinel", 5) in await kpi_moves(svc, summed) and (
                "dp-sentinel",
                5,
            ) in await kpi_moves(svc, latest)

        await after_sentinel(sentinel, sentinel_applied)

        # dp-1 once at t+1, then dp-2 (t+3) is newer than it; a second dp-1 at t+5 would have
        # set 70 and then kept the older dp-2 out
        assert await kpi_moves(svc, latest) == [("dp-1", 30), ("dp-2", 20), ("dp-sentinel", 5)]
        assert (await goal(svc, latest))["key_results"][0]["current"] == 5

        summed_goal = await goal(svc, summed)
        assert summed_goal["key_results"][0]["current"] == 55  # 30 + 20 + 5, dp-1 once
        assert summed_goal["progress"] == 0.055
        assert await kpi_moves(svc, summed) == [("dp-1", 30), ("dp-2", 20), ("dp-sentinel", 5)]

        events = await goal_events(
            svc, lambda es: len(of_type(es, "progress_updated", summed)) >= 3
        )
        assert [e.data["new_progress"] for e in of_type(events, "progress_updated", summed)] == [
            0.03,
            0.05,
            0.055,
        ]
        assert [e.data["new_progress"] for e in of_type(events, "progress_updated", latest)] == [
            0.3,
            0.2,
            0.05,
        ]
        assert [e.data["milestone"] for e in of_type(events, "milestone_reached", latest)] == [
            "0.25"
        ]

        # each KPI save replaced the events of the one before (published by the consumer
        # itself) instead of leaving them to the relay, which would clear them with a write
        stored = await svc.app.state.runtime.db["goals"].find_one({"_id": summed})
        assert stored["pending_events"] == []
        held = [unpacked(entry).id for entry in stored["held_events"]]
        # the events of the last save (the run that applied the sentinel, dp-2 too when the
        # consumer took both at once), the newest of the goal, in order, already on the topic
        assert held == [e.id for e in events if e.subject == summed][-len(held) :]
        assert of_type(events, "progress_updated", summed)[-1].id in held
        assert stored["relay_after"] > datetime.now(UTC)


async def test_a_webhook_delivered_twice_moves_a_summed_goal_once() -> None:
    """End to end: the provider resends the same points (a new message id, so kpi-ingest's
    delivery log lets it through and the point is published again under the same id)."""
    run_id = unique()
    ingest_settings = isolated_settings(KpiIngestSettings, run_id=run_id, rate_limit_burst=10_000)
    async with (
        goals_service(run_id=run_id) as svc,
        running(create_kpi_ingest(ingest_settings)) as ingest,
    ):
        summed = await bound_goal(svc, "sum", target=1000)
        admin = bearer("acme", "admin-1", "admin", settings=ingest_settings)
        created = await ingest.post(
            "/v1/sources",
            json={"name": "generic", "format": "generic", "mapping": {}},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        source_id, secret = created.json()["id"], created.json()["secret"]

        async def deliver(points: Sequence[tuple[str, float, int]], msg_id: str) -> int:
            body = orjson.dumps(
                {
                    "datapoints": [
                        {
                            "id": pid,
                            "metric": "adoption_rate",
                            "value": value,
                            "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
                            "dimensions": {"product": "mobile"},
                        }
                        for pid, value, minutes in points
                    ]
                }
            )
            headers = {
                **signed_headers(secret, body, msg_id=msg_id),
                "content-type": "application/json",
            }
            response = await ingest.post(f"/v1/webhooks/{source_id}", content=body, headers=headers)
            return response.status_code

        batch = [("w-1", 40, 1), ("w-2", 25, 2)]
        assert await deliver(batch, "msg_a") == 202
        assert (
            await deliver(batch, "msg_a") == 202
        )  # same message: a duplicate, the delivery log says so
        assert await deliver(batch, "msg_b") == 202  # same points, new message id: re-published

        async def sentinel() -> None:
            assert await deliver([("w-sentinel", 1, 3)], "msg_sentinel") == 202

        async def sentinel_applied() -> bool:
            return any(value == 1 for _, value in await kpi_moves(svc, summed))

        await after_sentinel(sentinel, sentinel_applied)

        summed_goal = await goal(svc, summed)
        assert summed_goal["key_results"][0]["current"] == 66  # 40 + 25 + 1, each once
        assert [v for _, v in await kpi_moves(svc, summed)] == [40, 25, 1]
