"""Input the store would refuse is a 422 problem at the goals API, and nothing is written."""

from __future__ import annotations

import pytest

from tests.integration.goals.helpers import goals_service

pytestmark = pytest.mark.integration

KPI = {"kpi": {"metric": "nps", "filters": {"team.name": "core"}}}


@pytest.mark.parametrize(
    "key_result",
    [
        {"title": "NPS", "target": 50, "source": KPI},
        {
            "title": "NPS",
            "target": 50,
            "source": {"kpi": {"metric": "nps", "filters": {"$x": "y"}}},
        },
        {"id": "kr.1", "title": "Shipped", "target": 1},
    ],
    ids=["dot-filter-key", "dollar-filter-key", "dot-key-result-id"],
)
async def test_a_template_with_an_unstorable_map_key_is_refused_and_not_written(
    key_result: dict[str, object],
) -> None:
    async with goals_service() as svc:
        admin = svc.auth("hr", "hr_admin")
        before = (await svc.client.get("/v1/goal-templates", headers=admin)).json()
        template = {
            "id": "unsafe-template",
            "title": "Unsafe",
            "horizon": "short_term",
            "skills": ["communication"],
            "suggested_key_results": [key_result],
        }
        refused = await svc.client.post("/v1/goal-templates", headers=admin, json=template)
        after = (await svc.client.get("/v1/goal-templates", headers=admin)).json()

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert after == before
    assert "unsafe-template" not in [t["id"] for t in after["items"]]


async def test_a_goal_with_a_dotted_key_result_id_is_refused_and_not_written() -> None:
    async with goals_service() as svc:
        body = {
            "title": "Goal",
            "horizon": "short_term",
            "key_results": [{"id": "kr.1", "title": "Shipped", "target": 1}],
        }
        refused = await svc.client.post("/v1/goals", headers=svc.auth("pm"), json=body)
        mine = (await svc.client.get("/v1/goals", headers=svc.auth("pm"))).json()

    assert refused.status_code == 422, refused.text
    assert mine["items"] == []
