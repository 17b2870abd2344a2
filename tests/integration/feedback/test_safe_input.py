"""A skill name the store cannot hold as a field name is a 422, and nothing is written."""

from __future__ import annotations

import pytest

from tests.integration.feedback.conftest import Env, due
from tests.support import unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@pytest.mark.parametrize("skill", ["data.analysis", "$where"])
async def test_praise_rated_on_an_unstorable_skill_is_refused_and_not_written(
    env: Env, skill: str
) -> None:
    tenant = unique("safe-")
    await env.org(tenant, {"boss": None, "pm": "boss", "peer": "boss"})
    body = {"to": "pm", "skills": [skill], "ratings": {skill: 5}, "comment": "great"}

    refused = await env.call("POST", "/v1/feedback", (tenant, "peer"), json=body)
    received = await env.call("GET", "/v1/people/pm/feedback", (tenant, "pm"))

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert received.json()["items"] == []


async def test_a_request_asking_about_an_unstorable_skill_is_refused(env: Env) -> None:
    tenant = unique("safe-")
    await env.org(tenant, {"boss": None, "pm": "boss", "r1": "boss"})
    body = {
        "subject_id": "pm",
        "reviewers": [{"person_id": "r1", "relationship": "peer"}],
        "skills": ["data.analysis"],
        "due_date": due(env, 5),
    }

    refused = await env.call("POST", "/v1/feedback-requests", (tenant, "pm"), json=body)
    listed = await env.call("GET", "/v1/feedback-requests", (tenant, "pm"))

    assert refused.status_code == 422, refused.text
    assert listed.json()["items"] == []
