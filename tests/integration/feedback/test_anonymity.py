"""Anonymity that holds: from the subject's, the manager's and HR's side, and on Kafka."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.integration.feedback.conftest import Env, due
from tests.support import unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

REVIEWERS = ["rev-ann", "rev-bob", "rev-cy", "rev-dee"]
SKILLS = ["communication", "leadership"]
ANSWERS = {
    "rev-ann": {"communication": 5, "leadership": 4},
    "rev-bob": {"communication": 3, "leadership": 2},
    "rev-cy": {"communication": 4, "leadership": 3},
}
# distinct per reviewer and free of any id: a leak of any answerer's id next to an answer, or
# of another answerer's comment, shows (a comment quoting its author would hide the first)
COMMENTS = {
    "rev-ann": "Ships the roadmap on time",
    "rev-bob": "Could listen more in planning",
    "rev-cy": "Writes the clearest specs",
    "rev-dee": "Mentors juniors generously",
}
LATE = {"communication": 1, "leadership": 1}


async def anonymous_request(env: Env, tenant: str) -> str:
    await env.org(
        tenant,
        {"ceo": None, "mgr": "ceo", "pm": "mgr", "hr": None, **dict.fromkeys(REVIEWERS, "ceo")},
    )
    created = await env.call(
        "POST",
        "/v1/feedback-requests",
        (tenant, "mgr"),
        json={
            "subject_id": "pm",
            "reviewers": [{"person_id": r, "relationship": "peer"} for r in REVIEWERS],
            "skills": SKILLS,
            "questions": ["What should pm keep doing?"],
            "due_date": due(env),
            "anonymous": True,
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["min_responses"] == 3
    return str(body["id"])


async def answer(env: Env, tenant: str, request_id: str, reviewer: str) -> Any:
    response = await env.call(
        "POST",
        f"/v1/feedback-requests/{request_id}/responses",
        (tenant, reviewer),
        json={"ratings": ANSWERS.get(reviewer, LATE), "comments": COMMENTS[reviewer]},
    )
    assert response.status_code == 201, response.text
    return response.json()


def readers(tenant: str) -> list[tuple[tuple[str, str], tuple[str, ...]]]:
    return [((tenant, "pm"), ()), ((tenant, "mgr"), ()), ((tenant, "hr"), ("hr_admin",))]


def reviewer_ids_in(value: Any) -> set[str]:
    """Every reviewer id that appears anywhere in a JSON value (keys, values, substrings)."""
    text = repr(value)
    return {r for r in REVIEWERS if r in text}


async def test_anonymous_answers_stay_hidden_until_min_responses_for_subject_manager_and_hr(
    env: Env,
) -> None:
    tenant = unique("anon-")
    request_id = await anonymous_request(env, tenant)
    await answer(env, tenant, request_id, "rev-ann")
    await answer(env, tenant, request_id, "rev-bob")

    for who, roles in readers(tenant):
        request = await env.call("GET", f"/v1/feedback-requests/{request_id}", who, *roles)
        assert request.status_code == 200
        body = request.json()
        assert body["released"] is False
        assert body["responses"] == []
        assert body["progress"] == {"asked": 4, "answered": 2, "declined": 0, "open": 2}
        assert all("status" not in r for r in body["reviewers"])  # who answered stays unknown
        feedback = await env.call("GET", "/v1/people/pm/feedback", who, *roles)
        assert feedback.json()["items"] == []
        summary = await env.call("GET", "/v1/people/pm/feedback-summary", who, *roles)
        assert summary.json()["skills"] == []


async def test_released_anonymous_answers_never_say_who_answered_what(env: Env) -> None:
    tenant = unique("anon-")
    request_id = await anonymous_request(env, tenant)
    for reviewer in ANSWERS:
        await answer(env, tenant, request_id, reviewer)
    declined = await env.call(
        "POST", f"/v1/feedback-requests/{request_id}/decline", (tenant, "rev-dee")
    )
    assert declined.status_code == 200

    for who, roles in readers(tenant):
        request = (await env.call("GET", f"/v1/feedback-requests/{request_id}", who, *roles)).json()
        assert request["released"] is True
        assert request["status"] == "completed"
        responses = request["responses"]
        assert sorted(r["ratings"]["communication"] for r in responses) == [3, 4, 5]
        assert sorted(r["comments"] for r in responses) == sorted(COMMENTS[r] for r in ANSWERS)
        for response in responses:
            assert "reviewer_id" not in response
            assert "relationship" not in response
        # the reviewers asked are listed, but nothing ties any of them to an answer
        assert reviewer_ids_in(responses) == set()
        assert all(sorted(r) == ["person_id", "relationship"] for r in request["reviewers"]), (
            request["reviewers"]
        )
        items = (await env.call("GET", "/v1/people/pm/feedback", who, *roles)).json()["items"]
        assert sorted(i["comments"] for i in items) == sorted(COMMENTS[r] for r in ANSWERS)
        assert reviewer_ids_in(items) == set()
        assert all(i["from_id"] is None and i["anonymous"] for i in items)
        assert all(i["relationship"] is None for i in items)

    # a reviewer sees only their own status
    mine = (
        await env.call("GET", f"/v1/feedback-requests/{request_id}", (tenant, "rev-bob"))
    ).json()
    assert mine["my_status"] == "answered"
    assert "reviewers" not in mine
    assert "responses" not in mine
    # nothing of the other answerers reaches a reviewer: neither their ids nor their words
    assert reviewer_ids_in(mine) <= {"rev-bob"}
    assert not [c for r, c in COMMENTS.items() if r != "rev-bob" and c in repr(mine)]


async def test_answer_dates_say_nothing_before_release_and_a_late_answer_stays_anonymous(
    env: Env,
) -> None:
    """Each answer on its own day: the first batch is dated the release day (its real dates
    would tell who answered when the progress moved); an answer after release gets its own."""
    tenant = unique("anon-")
    request_id = await anonymous_request(env, tenant)
    t0, start = env.clock.now, env.clock.today()
    for days, reviewer in [(0, "rev-ann"), (2, "rev-bob"), (4, "rev-cy")]:
        env.clock.now = t0 + timedelta(days=days)
        await answer(env, tenant, request_id, reviewer)
    release_day = (start + timedelta(days=4)).isoformat()

    for who, roles in readers(tenant):
        request = (await env.call("GET", f"/v1/feedback-requests/{request_id}", who, *roles)).json()
        assert request["released"] is True
        assert [r["on"] for r in request["responses"]] == [release_day] * 3
        items = (await env.call("GET", "/v1/people/pm/feedback", who, *roles)).json()["items"]
        assert [i["on"] for i in items] == [release_day] * 3

    env.clock.now += timedelta(days=2)  # day 6: rev-dee answers after the release
    await answer(env, tenant, request_id, "rev-dee")
    late_day = (start + timedelta(days=6)).isoformat()

    for who, roles in readers(tenant):
        request = (await env.call("GET", f"/v1/feedback-requests/{request_id}", who, *roles)).json()
        responses = request["responses"]
        assert sorted((r["on"], r["comments"]) for r in responses) == sorted(
            [(release_day, COMMENTS[r]) for r in ANSWERS] + [(late_day, COMMENTS["rev-dee"])]
        )
        assert reviewer_ids_in(responses) == set()
        assert all("reviewer_id" not in r and "relationship" not in r for r in responses)
        assert all(sorted(r) == ["person_id", "relationship"] for r in request["reviewers"])
        items = (await env.call("GET", "/v1/people/pm/feedback", who, *roles)).json()["items"]
        assert len(items) == 4
        assert reviewer_ids_in(items) == set()
        assert all(i["from_id"] is None and i["relationship"] is None for i in items)


async def test_events_of_an_anonymous_request_name_no_reviewer_after_the_request(env: Env) -> None:
    tenant = unique("anon-")
    request_id = await anonymous_request(env, tenant)
    for reviewer in ["rev-ann", "rev-bob", "rev-cy"]:
        await answer(env, tenant, request_id, reviewer)
    await env.call("POST", f"/v1/feedback-requests/{request_id}/decline", (tenant, "rev-dee"))

    events = await env.feedback_events(tenant, expected=4 + 3 + 1 + 1)

    by_type: dict[str, list[Any]] = {}
    for event in events:
        by_type.setdefault(event.type.split(".")[2], []).append(event)
    assert sorted(e.data["reviewer_id"] for e in by_type["requested"]) == sorted(REVIEWERS)
    assert len(by_type["submitted"]) == 3
    assert all(e.data["reviewer_id"] is None for e in by_type["submitted"])
    assert [e.data["reviewer_id"] for e in by_type["declined"]] == [None]
    [released] = by_type["released"]
    assert released.data["response_count"] == 3
    assert released.data["request_id"] == request_id
    for kind, batch in by_type.items():
        # requested and reminder_due are each addressed to one reviewer: the only ones naming one
        if kind not in ("requested", "reminder_due"):
            for event in batch:
                assert reviewer_ids_in(event.data) == set(), event
                assert reviewer_ids_in(event.subject) == set()


async def test_stored_answers_sit_apart_from_reviewer_identities(env: Env) -> None:
    tenant = unique("anon-")
    request_id = await anonymous_request(env, tenant)
    for reviewer in ANSWERS:
        await answer(env, tenant, request_id, reviewer)

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env.settings.mongodb_uri)
    try:
        doc = await mongo[env.settings.mongodb_database]["feedback_requests"].find_one(
            {"tenant": tenant, "id": request_id}
        )
    finally:
        await mongo.close()
    assert doc is not None
    stored = [
        {k: v for k, v in r.items() if k != "comments"} for r in doc["responses"]
    ]  # comments hold the text the reviewers typed
    assert reviewer_ids_in(stored) == set()
    assert all(r["reviewer_id"] is None for r in doc["responses"])
    # the double-answer guard is a keyed hash, not a reviewer id
    assert len(doc["answer_keys"]) == 3
    assert reviewer_ids_in(doc["answer_keys"]) == set()
    assert doc["answer_keys"] == sorted(doc["answer_keys"])
