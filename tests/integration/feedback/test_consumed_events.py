"""Requests the feedback service creates from goal and people events, once per event."""

from __future__ import annotations

import pytest

from shared.events.goals import GoalAchieved, GoalMilestoneReached
from shared.events.people import PersonManagerChanged
from shared.events.reviews import ReviewPeerFeedbackRequested
from tests.integration.feedback.conftest import Env
from tests.support import bearer, eventually, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ORG = {"boss": None, "old": "boss", "new": "boss", "pm": "new", "ally": "boss", "mate": "old"}


async def assigned(env: Env, tenant: str, who: str) -> list[dict[str, object]]:
    response = await env.client.get(
        "/v1/feedback-requests?assigned_to=me&status=open", headers=bearer(tenant, who)
    )
    assert response.status_code == 200
    return list(response.json()["items"])


async def test_goal_milestone_and_achievement_ask_the_named_reviewers_once_per_event(
    env: Env,
) -> None:
    tenant = unique("goal-")
    await env.org(tenant, ORG)
    facts = {
        "goal_id": "g1",
        "tenant": tenant,
        "owner_id": "pm",
        "title": "Ship the onboarding redesign",
        "horizon": "short_term",
        "status": "active",
        "progress": 0.5,
        "feedback_reviewer_ids": ["ally", "mate", "pm"],
    }
    milestone = await env.publish(
        GoalMilestoneReached(**facts, milestone="0.5", threshold=0.5), tenant=tenant, subject="g1"
    )
    # a redelivery of the same event (same id) must not ask twice
    await env.app.state.runtime.producer.publish(milestone)
    await env.publish(
        GoalAchieved(**{**facts, "status": "achieved", "progress": 1.0}),
        tenant=tenant,
        subject="g1",
    )

    async def two_requests() -> list[dict[str, object]] | None:
        items = await assigned(env, tenant, "ally")
        return items if len(items) >= 2 else None

    items = await eventually(two_requests)
    assert len(items) == 2
    assert all(i["subject_id"] == "pm" and i["goal_id"] == "g1" for i in items)
    assert all(i["kind"] == "goal" for i in items)
    assert {i["my_relationship"] for i in items} == {"peer"}
    assert len(await assigned(env, tenant, "mate")) == 2
    assert await assigned(env, tenant, "pm") == []  # the owner is never asked about themselves
    events = await env.feedback_events(tenant, expected=4)
    requested = [e for e in events if e.type == "northstar.feedback.requested.v1"]
    assert sorted(e.data["reviewer_id"] for e in requested) == ["ally", "ally", "mate", "mate"]


async def test_manager_change_asks_the_previous_manager_for_a_handover_note(env: Env) -> None:
    tenant = unique("handover-")
    await env.org(tenant, {**ORG, "pm": "old"})
    change = await env.publish(
        PersonManagerChanged(id="pm", tenant=tenant, old_manager_id="old", new_manager_id="new"),
        tenant=tenant,
        subject="pm",
    )
    await env.app.state.runtime.producer.publish(change)  # redelivered

    [request] = await eventually(lambda: assigned(env, tenant, "old"))
    assert request["kind"] == "handover"
    assert request["subject_id"] == "pm"
    assert request["requester_id"] == "new"
    assert request["my_relationship"] == "manager"
    answered = await env.call(
        "POST",
        f"/v1/feedback-requests/{request['id']}/responses",
        (tenant, "old"),
        json={"answers": ["Great at discovery", "Needs air cover on the launch"]},
    )
    assert answered.status_code == 201, answered.text

    # the new manager reads the note; the projection already follows the new chain
    async def note() -> list[dict[str, object]]:
        feedback = await env.call("GET", "/v1/people/pm/feedback", (tenant, "new"))
        return list(feedback.json()["items"])

    [item] = await eventually(note)
    assert item["from_id"] == "old"
    assert item["answers"][0] == "Great at discovery"
    assert len(await env.feedback_events(tenant, expected=2)) == 2  # one requested, one submitted


async def test_review_peers_are_asked_once_under_the_anonymity_rules(env: Env) -> None:
    tenant = unique("review-")
    await env.org(tenant, ORG)
    approval = {
        "review_id": "rv1",
        "cycle_id": "c1",
        "tenant": tenant,
        "subject_id": "pm",
        "requester_id": "new",
        "skills": ["communication"],
        "questions": ["What went well?"],
    }
    # too few peers for an anonymous request: this service's floor wins, nobody is asked
    await env.publish(
        ReviewPeerFeedbackRequested(**approval, reviewer_ids=["ally"], anonymous=True),
        tenant=tenant,
        subject="rv1",
    )
    asked = await env.publish(
        ReviewPeerFeedbackRequested(
            **approval,
            reviewer_ids=["ally", "mate", "old"],
            anonymous=True,
            min_responses=2,  # raised to 3
        ),
        tenant=tenant,
        subject="rv1",
    )
    await env.app.state.runtime.producer.publish(asked)  # redelivered
    # the sentinel, on the same key, asks "boss" by name: once boss has it, the rest was handled
    await env.publish(
        ReviewPeerFeedbackRequested(**approval, reviewer_ids=["boss"]), tenant=tenant, subject="rv1"
    )
    [sentinel] = await eventually(lambda: assigned(env, tenant, "boss"))
    assert sentinel["anonymous"] is False
    [request] = await assigned(env, tenant, "ally")
    assert request["kind"] == "review"
    assert request["anonymous"] is True
    assert request["skills"] == ["communication"]
    assert len(await assigned(env, tenant, "mate")) == 1
