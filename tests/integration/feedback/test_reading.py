"""Reading feedback: the per-skill summary over two periods, praise and who may read what."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.feedback.conftest import Env, due
from tests.support import unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ORG = {
    "boss": None,
    "pm": "boss",
    "r1": "boss",
    "r2": "boss",
    "r3": "boss",
    "mentor": None,
    "peer": "boss",
}


async def ask(env: Env, tenant: str, reviewers: list[str], **extra: Any) -> str:
    created = await env.call(
        "POST",
        "/v1/feedback-requests",
        (tenant, "pm"),
        json={
            "subject_id": "pm",
            "reviewers": [{"person_id": r, "relationship": "peer"} for r in reviewers],
            "skills": ["communication", "leadership"],
            "due_date": due(env, 5),
            **extra,
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def answer(env: Env, tenant: str, rid: str, who: str, comm: int, lead: int) -> None:
    response = await env.call(
        "POST",
        f"/v1/feedback-requests/{rid}/responses",
        (tenant, who),
        json={"ratings": {"communication": comm, "leadership": lead}},
    )
    assert response.status_code == 201, response.text


async def test_summary_gives_mean_count_and_trend_per_skill_over_two_periods(env: Env) -> None:
    tenant = unique("sum-")
    await env.org(tenant, ORG)
    # long before both periods: ignored
    env.clock.now = datetime(2026, 1, 2, 9, tzinfo=UTC)
    old = await ask(env, tenant, ["r1"])
    await answer(env, tenant, old, "r1", 1, 1)
    # the previous period (2026-01-29 .. 2026-02-28)
    env.clock.now = datetime(2026, 2, 10, 9, tzinfo=UTC)
    before = await ask(env, tenant, ["r1", "r2"])
    await answer(env, tenant, before, "r1", 2, 3)
    await answer(env, tenant, before, "r2", 4, 3)
    # the period asked about (2026-03-01 .. 2026-03-31)
    env.clock.now = datetime(2026, 3, 15, 9, tzinfo=UTC)
    now = await ask(env, tenant, ["r1", "r2", "r3"], anonymous=True)
    await answer(env, tenant, now, "r1", 4, 4)
    await answer(env, tenant, now, "r2", 5, 4)
    await answer(env, tenant, now, "r3", 5, 2)
    hidden = await ask(env, tenant, ["r1", "r2", "r3"], anonymous=True)
    await answer(env, tenant, hidden, "r1", 1, 1)  # below min_responses: never counted
    praise = await env.call(
        "POST",
        "/v1/feedback",
        (tenant, "peer"),
        json={
            "to": "pm",
            "skills": ["data_analysis"],
            "ratings": {"data_analysis": 5},
            "comment": "great analysis of the funnel",
            "visibility": "manager",
        },
    )
    assert praise.status_code == 201

    for who, roles in [("pm", ()), ("boss", ()), ("hr", ("hr_admin",))]:
        summary = await env.call(
            "GET",
            "/v1/people/pm/feedback-summary?from=2026-03-01&to=2026-03-31",
            (tenant, who),
            *roles,
        )
        assert summary.status_code == 200, summary.text
        body = summary.json()
        assert body["previous_period"] == {"from": "2026-01-29", "to": "2026-02-28"}
        assert {s["skill"]: s for s in body["skills"]} == {
            "communication": {
                "skill": "communication",
                "mean": 4.67,
                "count": 3,
                "previous_mean": 3.0,
                "previous_count": 2,
                "trend": 1.67,
                "direction": "up",
            },
            "leadership": {
                "skill": "leadership",
                "mean": 3.33,
                "count": 3,
                "previous_mean": 3.0,
                "previous_count": 2,
                "trend": 0.33,
                "direction": "up",
            },
            "data_analysis": {
                "skill": "data_analysis",
                "mean": 5.0,
                "count": 1,
                "previous_mean": None,
                "previous_count": 0,
                "trend": None,
                "direction": "new",
            },
        }


async def test_visibility_of_feedback_for_mentors_colleagues_and_praise(env: Env) -> None:
    tenant = unique("vis-")
    await env.org(tenant, ORG)
    await env.mentorship(tenant, "mentor", "pm")
    rid = await ask(env, tenant, ["r1"])
    await answer(env, tenant, rid, "r1", 4, 4)
    for visibility in ["private", "manager", "public"]:
        given = await env.call(
            "POST",
            "/v1/feedback",
            (tenant, "peer"),
            json={"to": "pm", "comment": f"{visibility} thanks", "visibility": visibility},
        )
        assert given.status_code == 201, given.text

    async def seen(who: str, *roles: str) -> set[str]:
        response = await env.call("GET", "/v1/people/pm/feedback", (tenant, who), *roles)
        assert response.status_code == 200
        return {i["comments"] or i["kind"] for i in response.json()["items"]}

    everything = {"private thanks", "manager thanks", "public thanks", "response"}
    assert await seen("pm") == everything
    assert await seen("boss") == {"manager thanks", "public thanks", "response"}
    assert await seen("hr", "hr_admin") == {"manager thanks", "public thanks", "response"}
    assert await seen("peer") == {"private thanks", "manager thanks", "public thanks"}
    assert await seen("r2") == {"public thanks"}
    assert await seen("mentor") == {"public thanks"}  # until pm shares with mentors
    summary = await env.call("GET", "/v1/people/pm/feedback-summary", (tenant, "mentor"))
    assert summary.status_code == 403

    shared = await env.call(
        "PUT", "/v1/people/me/feedback-sharing", (tenant, "pm"), json={"share_with_mentors": True}
    )
    assert shared.status_code == 200
    assert await seen("mentor") == {"public thanks", "response"}
    summary = await env.call("GET", "/v1/people/pm/feedback-summary", (tenant, "mentor"))
    assert summary.status_code == 200
    assert await seen("r2") == {"public thanks"}

    to_self = await env.call(
        "POST", "/v1/feedback", (tenant, "pm"), json={"to": "pm", "comment": "me"}
    )
    assert to_self.status_code == 422
    nobody = await env.call(
        "POST", "/v1/feedback", (tenant, "pm"), json={"to": "ghost", "comment": "x"}
    )
    assert nobody.status_code == 404

    events = await env.feedback_events(tenant, expected=1 + 1 + 3)
    given_events = [e for e in events if e.type == "northstar.feedback.given.v1"]
    assert sorted(e.data["visibility"] for e in given_events) == ["manager", "private", "public"]
    assert all(e.data["from_id"] == "peer" and e.data["to_id"] == "pm" for e in given_events)
