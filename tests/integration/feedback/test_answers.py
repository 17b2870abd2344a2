"""Answers are accepted once, from someone asked, before the due date; refusals change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.integration.feedback.conftest import Env, due
from tests.support import eventually, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ORG = {"boss": None, "lead": "boss", "pm": "lead", "r1": "boss", "r2": "boss", "r3": "boss"}
RATINGS = {"ratings": {"ux_design": 4}, "comments": "solid"}


async def named_request(env: Env, tenant: str, **overrides: Any) -> dict[str, Any]:
    await env.org(tenant, ORG)
    body = {
        "subject_id": "pm",
        "reviewers": [
            {"person_id": "r1", "relationship": "peer"},
            {"person_id": "r2", "relationship": "cross_functional"},
            {"person_id": "r3", "relationship": "mentor"},
        ],
        "skills": ["ux_design"],
        "due_date": due(env, 3),
        **overrides,
    }
    created = await env.call("POST", "/v1/feedback-requests", (tenant, "pm"), json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def state(env: Env, tenant: str, request_id: str) -> dict[str, Any]:
    response = await env.call("GET", f"/v1/feedback-requests/{request_id}", (tenant, "pm"))
    return dict(response.json())


async def test_second_answer_is_refused_with_409_and_changes_nothing(env: Env) -> None:
    tenant = unique("ans-")
    request = await named_request(env, tenant)
    url = f"/v1/feedback-requests/{request['id']}/responses"
    assert (await env.call("POST", url, (tenant, "r1"), json=RATINGS)).status_code == 201
    before = await state(env, tenant, request["id"])

    again = await env.call("POST", url, (tenant, "r1"), json={"ratings": {"ux_design": 1}})

    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"] == "/problems/already-answered"
    assert await state(env, tenant, request["id"]) == before
    [response] = before["responses"]
    assert response["reviewer_id"] == "r1"  # a named request names its reviewers
    assert response["ratings"] == {"ux_design": 4}


async def test_answer_from_someone_not_asked_is_refused_and_changes_nothing(env: Env) -> None:
    tenant = unique("ans-")
    request = await named_request(env, tenant)
    url = f"/v1/feedback-requests/{request['id']}/responses"
    before = await state(env, tenant, request["id"])

    for who in ["lead", "pm", "boss"]:
        refused = await env.call("POST", url, (tenant, who), json=RATINGS)
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"] == "/problems/not-a-reviewer"
    declined = await env.call(
        "POST", f"/v1/feedback-requests/{request['id']}/decline", (tenant, "lead")
    )
    assert declined.status_code == 403

    assert await state(env, tenant, request["id"]) == before


async def test_invalid_answers_are_refused_with_422_and_change_nothing(env: Env) -> None:
    tenant = unique("ans-")
    request = await named_request(env, tenant)
    url = f"/v1/feedback-requests/{request['id']}/responses"
    before = await state(env, tenant, request["id"])

    for body in [
        {"ratings": {"ux_design": 6}},
        {"ratings": {"ux_design": 0}},
        {"ratings": {"leadership": 4, "ux_design": 3}},  # not asked about
        {"ratings": {}, "comments": "missing the rating"},
        {"ratings": {"ux_design": "4"}},
    ]:
        refused = await env.call("POST", url, (tenant, "r1"), json=body)
        assert refused.status_code == 422, (body, refused.text)
    assert await state(env, tenant, request["id"]) == before
    mine = await env.call("GET", "/v1/feedback-requests?assigned_to=me&status=open", (tenant, "r1"))
    assert [r["id"] for r in mine.json()["items"]] == [request["id"]]


async def test_answer_after_the_due_date_is_refused_with_410_and_changes_nothing(env: Env) -> None:
    tenant = unique("ans-")
    request = await named_request(env, tenant)
    url = f"/v1/feedback-requests/{request['id']}/responses"
    assert (await env.call("POST", url, (tenant, "r1"), json=RATINGS)).status_code == 201
    before = await state(env, tenant, request["id"])

    env.clock.now += timedelta(days=4)  # past the end of the due date
    late = await env.call("POST", url, (tenant, "r2"), json=RATINGS)
    assert late.status_code == 410
    assert late.json()["type"] == "/problems/request-expired"
    assert "no longer takes answers" in late.json()["detail"]

    # the periodic expiry job closes it and tells who had not answered (a named request)
    async def expired() -> bool:
        return bool((await state(env, tenant, request["id"]))["status"] == "expired")

    await eventually(expired)
    after = await state(env, tenant, request["id"])
    assert after["responses"] == before["responses"]
    assert after["progress"] == before["progress"]
    assert (await env.call("POST", url, (tenant, "r3"), json=RATINGS)).status_code == 410
    declined = await env.call(
        "POST", f"/v1/feedback-requests/{request['id']}/decline", (tenant, "r3")
    )
    assert declined.status_code == 410
    open_now = await env.call(
        "GET", "/v1/feedback-requests?assigned_to=me&status=open", (tenant, "r3")
    )
    assert open_now.json()["items"] == []

    events = await env.feedback_events(tenant, expected=3 + 1 + 1)
    [expiry] = [e for e in events if e.type == "northstar.feedback.request_expired.v1"]
    assert sorted(expiry.data["open_reviewer_ids"]) == ["r2", "r3"]
    assert expiry.data["response_count"] == 1


async def test_expired_anonymous_request_names_nobody_and_keeps_its_answers_hidden(
    env: Env,
) -> None:
    tenant = unique("ans-")
    request = await named_request(env, tenant, anonymous=True, min_responses=3)
    url = f"/v1/feedback-requests/{request['id']}/responses"
    assert (await env.call("POST", url, (tenant, "r1"), json=RATINGS)).status_code == 201
    env.clock.now += timedelta(days=4)

    assert await env.app.state.feedback_requests.expire_overdue() in (0, 1)  # the job may be first
    after = await state(env, tenant, request["id"])
    assert after["status"] == "expired"
    assert after["released"] is False
    assert after["responses"] == []

    events = await env.feedback_events(tenant, expected=3 + 1 + 1)
    [expiry] = [e for e in events if e.type == "northstar.feedback.request_expired.v1"]
    assert expiry.data["open_reviewer_ids"] == []
    assert expiry.data["open_count"] == 2
    assert expiry.data["released"] is False


async def test_another_tenants_request_answers_404(env: Env) -> None:
    tenant = unique("ans-")
    request = await named_request(env, tenant)
    intruder = unique("other-")
    await env.org(intruder, ORG)
    rid = request["id"]
    for method, url, body in [
        ("GET", f"/v1/feedback-requests/{rid}", None),
        ("POST", f"/v1/feedback-requests/{rid}/responses", RATINGS),
        ("POST", f"/v1/feedback-requests/{rid}/decline", None),
    ]:
        for roles in [(), ("hr_admin",)]:
            answer = await env.call(method, url, (intruder, "r1"), *roles, json=body)
            assert answer.status_code == 404, (url, answer.text)
            assert answer.json()["type"] == "/problems/not-found"
    assert (await state(env, tenant, rid))["progress"]["answered"] == 0
    # a stranger of the same tenant learns nothing either
    peek = await env.call("GET", f"/v1/feedback-requests/{rid}", (tenant, "r1x"))
    assert peek.status_code == 404


async def test_asking_is_limited_to_yourself_your_reports_or_hr(env: Env) -> None:
    tenant = unique("ans-")
    await env.org(tenant, ORG)
    body = {
        "subject_id": "lead",
        "reviewers": [{"person_id": "r1", "relationship": "peer"}],
        "skills": ["leadership"],
        "due_date": due(env),
    }
    assert (
        await env.call("POST", "/v1/feedback-requests", (tenant, "pm"), json=body)
    ).status_code == 403
    assert (
        await env.call("POST", "/v1/feedback-requests", (tenant, "boss"), json=body)
    ).status_code == 201
    hr = await env.call("POST", "/v1/feedback-requests", (tenant, "hr"), "hr_admin", json=body)
    assert hr.status_code == 201
    too_few = {**body, "anonymous": True}  # default min_responses 3 > 1 reviewer
    refused = await env.call("POST", "/v1/feedback-requests", (tenant, "boss"), json=too_few)
    assert refused.status_code == 422
    assert "min_responses" in refused.json()["detail"]
    unknown = {**body, "reviewers": [{"person_id": "ghost", "relationship": "peer"}]}
    assert (
        await env.call("POST", "/v1/feedback-requests", (tenant, "boss"), json=unknown)
    ).status_code == 422
    past = {**body, "due_date": (env.clock.today() - timedelta(days=1)).isoformat()}
    assert (
        await env.call("POST", "/v1/feedback-requests", (tenant, "boss"), json=past)
    ).status_code == 422
    mine = await env.call("GET", "/v1/feedback-requests", (tenant, "boss"))
    assert len(mine.json()["items"]) == 1
