"""k-anonymity of anonymous feedback: nothing anonymous is shown, alone or summed, below three
answers (with two, each reviewer reads the other's answer by setting their own aside)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.feedback.config import FeedbackSettings
from tests.integration.feedback.conftest import Env, due
from tests.support import unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

REVIEWERS = ["r1", "r2", "r3"]
RATINGS = {"ratings": {"communication": 5}}


async def anonymous_request(env: Env, tenant: str, **extra: object) -> object:
    await env.org(tenant, {"mgr": None, "pm": "mgr", **dict.fromkeys(REVIEWERS, "mgr")})
    return await env.call(
        "POST",
        "/v1/feedback-requests",
        (tenant, "pm"),
        json={
            "subject_id": "pm",
            "reviewers": [{"person_id": r, "relationship": "peer"} for r in REVIEWERS],
            "skills": ["communication"],
            "due_date": due(env),
            "anonymous": True,
            **extra,
        },
    )


async def test_an_anonymous_request_released_at_two_answers_is_refused_and_nothing_written(
    env: Env,
) -> None:
    tenant = unique("k-")

    refused = await anonymous_request(env, tenant, min_responses=2)

    assert refused.status_code == 422, refused.text  # type: ignore[attr-defined]
    assert refused.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert "at least 3" in refused.json()["detail"]  # type: ignore[attr-defined]
    listed = await env.call("GET", "/v1/feedback-requests", (tenant, "pm"))
    assert listed.json()["items"] == []


async def test_two_anonymous_answers_show_nothing_alone_or_in_the_summary_the_third_shows_all(
    env: Env,
) -> None:
    tenant = unique("k-")
    created = await anonymous_request(env, tenant)
    request_id = created.json()["id"]  # type: ignore[attr-defined]
    url = f"/v1/feedback-requests/{request_id}/responses"
    today = env.clock.now.date().isoformat()
    summary_url = f"/v1/people/pm/feedback-summary?from={today}&to={today}"

    for reviewer in REVIEWERS[:2]:
        assert (await env.call("POST", url, (tenant, reviewer), json=RATINGS)).status_code == 201
    for reader in ("pm", "mgr"):
        feedback = await env.call("GET", "/v1/people/pm/feedback", (tenant, reader))
        assert feedback.json()["items"] == [], reader
        assert await rated(env, tenant, reader, summary_url) == 0, reader

    assert (await env.call("POST", url, (tenant, "r3"), json=RATINGS)).status_code == 201
    feedback = await env.call("GET", "/v1/people/pm/feedback", (tenant, "pm"))
    assert len(feedback.json()["items"]) == 3
    assert await rated(env, tenant, "mgr", summary_url) == 3


async def rated(env: Env, tenant: str, reader: str, summary_url: str) -> int:
    """How many ratings of ``communication`` the reader's summary counts."""
    summary = await env.call("GET", summary_url, (tenant, reader))
    assert summary.status_code == 200, summary.text
    counts = [s["count"] for s in summary.json()["skills"] if s["skill"] == "communication"]
    return sum(counts)


async def test_the_release_threshold_setting_cannot_go_below_three() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 3"):
        FeedbackSettings(default_min_responses=2)
    assert FeedbackSettings().default_min_responses == 3


async def test_a_skip_level_manager_asked_as_a_peer_counts_as_a_manager(env: Env) -> None:
    """vp manages pm's manager: asked (as a "peer") on pm's anonymous request, vp is listed as a
    manager, and as a reader who answered sees the answers only once three others answered."""
    tenant = unique("k-")
    reviewers = ["r1", "r2", "vp", "r3"]
    await env.org(
        tenant, {"vp": None, "mgr": "vp", "pm": "mgr", "r1": "mgr", "r2": "mgr", "r3": "mgr"}
    )
    created = await env.call(
        "POST",
        "/v1/feedback-requests",
        (tenant, "pm"),
        json={
            "subject_id": "pm",
            "reviewers": [{"person_id": r, "relationship": "peer"} for r in reviewers],
            "skills": ["communication"],
            "due_date": due(env),
            "anonymous": True,
        },
    )
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    listed = {r["person_id"]: r["relationship"] for r in created.json()["reviewers"]}
    assert listed == {"r1": "peer", "r2": "peer", "vp": "manager", "r3": "peer"}
    url = f"/v1/feedback-requests/{request_id}"

    for reviewer in ("r1", "vp", "r2"):
        answered = await env.call("POST", f"{url}/responses", (tenant, reviewer), json=RATINGS)
        assert answered.status_code == 201, answered.text
    as_subject = (await env.call("GET", url, (tenant, "pm"))).json()
    assert (as_subject["released"], len(as_subject["responses"])) == (True, 3)
    as_vp = (await env.call("GET", url, (tenant, "vp"))).json()
    assert as_vp["my_relationship"] == "manager"
    assert as_vp["responses"] == []  # vp's own set aside, two are left: not yet
    feedback = await env.call("GET", "/v1/people/pm/feedback", (tenant, "vp"))
    assert feedback.json()["items"] == []
    # mgr, the direct manager, asked nothing of it: reads the three
    assert len((await env.call("GET", url, (tenant, "mgr"))).json()["responses"]) == 3

    assert (
        await env.call("POST", f"{url}/responses", (tenant, "r3"), json=RATINGS)
    ).status_code == 201
    assert len((await env.call("GET", url, (tenant, "vp"))).json()["responses"]) == 4
    feedback = await env.call("GET", "/v1/people/pm/feedback", (tenant, "vp"))
    assert len(feedback.json()["items"]) == 4
