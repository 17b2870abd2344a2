"""The packet and the gap analysis, assembled from other services' events on the real servers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.events.feedback import FeedbackGiven, FeedbackReleased, FeedbackSubmitted
from shared.events.goals import (
    GoalAchieved,
    GoalCreated,
    GoalMilestoneReached,
    GoalProgressUpdated,
    ProgressCause,
)
from shared.events.people import PersonUpserted
from tests.integration.reviews.conftest import SKILLS, START, Env, cycle_body
from tests.support import eventually, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ORG: dict[str, tuple[str | None, str | None]] = {
    "hr": (None, "People"),
    "boss": (None, "Product"),
    "ada": ("boss", "Product"),
    "bob": ("boss", "Product"),
}


def facts(tenant: str, goal_id: str, **kw: Any) -> dict[str, Any]:
    return {
        "goal_id": goal_id,
        "tenant": tenant,
        "owner_id": "ada",
        "title": kw.pop("title", f"Goal {goal_id}"),
        "horizon": "short_term",
        "status": "active",
        **kw,
    }


async def test_the_packet_holds_the_goals_and_feedback_of_the_period(env: Env) -> None:
    tenant = unique("packet-")
    await env.org(tenant, ORG)
    during = START - timedelta(days=30)
    before = START - timedelta(days=200)  # before the 90-day period
    g1 = facts(tenant, "g1", title="Ship onboarding")
    await env.publish(GoalCreated(**g1, skills=["ux_design"]), subject="g1", time=during)
    for n, (old, new, cause) in enumerate(
        [(0.0, 0.2, "check_in"), (0.2, 0.7, "kpi"), (0.7, 1.0, "check_in")]
    ):
        await env.publish(
            GoalProgressUpdated(
                **g1,
                progress=new,
                old_progress=old,
                new_progress=new,
                cause=ProgressCause(kind=cause, metric="adoption" if cause == "kpi" else None),
            ),
            subject="g1",
            time=during + timedelta(days=n),
        )
    await env.publish(
        GoalMilestoneReached(**g1, progress=0.5, milestone="0.5"), subject="g1", time=during
    )
    await env.publish(
        GoalAchieved(**{**g1, "status": "achieved"}, progress=1.0),
        subject="g1",
        time=during + timedelta(days=3),
    )
    # a goal that ended long before the period is not part of it
    g0 = facts(tenant, "g0", status="achieved")
    await env.publish(GoalCreated(**g0), subject="g0", time=before)
    await env.publish(GoalAchieved(**g0, progress=1.0), subject="g0", time=before)
    answer = {"tenant": tenant, "subject_id": "ada", "requester_id": "ada"}
    await env.publish(
        FeedbackSubmitted(**answer, request_id="r0", anonymous=False, ratings={"communication": 4}),
        subject="r0",
        time=before,
    )
    await env.publish(
        FeedbackSubmitted(**answer, request_id="r1", anonymous=False, ratings={"communication": 2}),
        subject="r1",
        time=during,
    )
    # an anonymous answer before its release carries no ratings; the release carries them all
    await env.publish(
        FeedbackSubmitted(**answer, request_id="r2", anonymous=True), subject="r2", time=during
    )
    await env.publish(
        FeedbackReleased(
            **answer,
            request_id="r2",
            response_count=2,
            ratings=[{"communication": 2, "ux_design": 5}, {"communication": 3}],
        ),
        subject="r2",
        time=during,
    )
    await env.publish(
        FeedbackGiven(
            feedback_id="p1",
            tenant=tenant,
            from_id="bob",
            to_id="ada",
            skills=["leadership"],
            visibility="public",
        ),
        subject="p1",
        time=during,
    )
    created = await env.call(
        "POST",
        "/v1/review-cycles",
        (tenant, "hr"),
        "hr_admin",
        json=cycle_body({"kind": "everyone"}),
    )
    cycle = created.json()
    await env.call("POST", f"/v1/review-cycles/{cycle['id']}/launch", (tenant, "hr"), "hr_admin")
    listing = await env.call("GET", "/v1/reviews", (tenant, "ada"))
    [review] = listing.json()["items"]

    async def complete() -> dict[str, Any] | None:
        response = await env.call("GET", f"/v1/reviews/{review['id']}/packet", (tenant, "ada"))
        packet = response.json()
        return packet if packet["praise"] and packet["achievements"] else None

    packet = await eventually(complete, timeout=30)
    [goal] = packet["goals"]
    assert goal["goal_id"] == "g1"
    assert goal["status"] == "achieved"
    assert goal["progress"] == 1.0
    assert goal["progress_in_period"] == 1.0
    assert [m["milestone"] for m in goal["milestones"]] == ["0.5"]
    assert goal["biggest_moves"][0]["cause"] == "kpi"
    assert goal["biggest_moves"][0]["metric"] == "adoption"
    assert goal["biggest_moves"][0]["change"] == 0.5
    assert packet["check_in_count"] == 2
    assert [a["goal_id"] for a in packet["achievements"]] == ["g1"]
    by_skill = {f["skill"]: f for f in packet["feedback"]}
    assert by_skill["communication"]["average"] == pytest.approx(7 / 3, abs=0.01)
    assert by_skill["communication"]["count"] == 3
    assert by_skill["communication"]["previous_average"] == 4.0
    assert by_skill["communication"]["trend"] == "down"
    assert by_skill["ux_design"]["trend"] == "new"
    assert [p["from_id"] for p in packet["praise"]] == ["bob"]
    # bob, a peer, reads none of it
    assert (
        await env.call("GET", f"/v1/reviews/{review['id']}/packet", (tenant, "bob"))
    ).status_code == 404


async def test_gap_analysis_of_a_person_with_known_ratings(env: Env) -> None:
    tenant = unique("gaps-")
    await env.org(tenant, ORG)
    # the HRIS title maps to the PM level; the target defaults to the next one, Senior PM
    await env.publish(
        PersonUpserted(
            id="ada",
            tenant=tenant,
            user_name="ada@x.test",
            manager_id="boss",
            department="Product",
            title="Product Manager",
        ),
        subject="ada",
    )

    async def mapped() -> dict[str, Any] | None:
        level = (await env.call("GET", "/v1/people/me/career", (tenant, "ada"))).json()
        return level if level["current_level"] == "pm" else None

    level = await eventually(mapped, timeout=30)
    assert level["current_source"] == "title"
    answer = {"tenant": tenant, "subject_id": "ada", "requester_id": "ada", "anonymous": False}
    ratings = {**dict.fromkeys(SKILLS, 4), "communication": 2, "data_analysis": 3}
    for n in range(2):
        await env.publish(
            FeedbackSubmitted(**answer, request_id=f"r{n}", ratings=ratings), subject=f"r{n}"
        )
    await env.publish(
        GoalCreated(**facts(tenant, "g1", title="Speak at meetups"), skills=["communication"]),
        subject="g1",
    )

    async def evidence_in() -> dict[str, Any] | None:
        gaps = (await env.call("GET", "/v1/people/ada/gaps", (tenant, "boss"))).json()
        skills = {s["skill"]: s for s in gaps["skills"]}
        ready = skills["communication"]["feedback_count"] == 2 and skills["communication"]["goals"]
        return gaps if ready else None

    gaps = await eventually(evidence_in, timeout=30)
    assert gaps["target_level"] == "senior_pm"
    skills = {s["skill"]: s for s in gaps["skills"]}
    # Senior PM expects communication 4 and data analysis 4: feedback says 2 and 3
    assert skills["communication"]["expected"] == 4
    assert skills["communication"]["gap"] == 2.0
    assert skills["data_analysis"]["gap"] == 1.0
    assert skills["leadership"]["gap"] == 0.0  # 4 observed, 3 expected
    assert [g["goal_id"] for g in skills["communication"]["goals"]] == ["g1"]
    assert "enhance-communication-skills" in skills["communication"]["suggested_templates"]
    assert skills["leadership"]["suggested_templates"] == []
    assert gaps["suggested_templates"][0] == "enhance-communication-skills"

    # the person aims higher; HR's level is not overwritten by a later title mapping
    target = await env.call(
        "PUT", "/v1/people/me/career/target", (tenant, "ada"), json={"level": "group_pm"}
    )
    assert target.status_code == 200
    peer = await env.call(
        "PUT", "/v1/people/ada/career/current", (tenant, "bob"), json={"level": "senior_pm"}
    )
    assert peer.status_code == 404  # bob is nobody to ada's career record
    boss = await env.call(
        "PUT", "/v1/people/ada/career/current", (tenant, "boss"), json={"level": "senior_pm"}
    )
    assert boss.status_code == 200
    assert boss.json()["target_level"] == "group_pm"
    gaps = (await env.call("GET", "/v1/people/me/gaps", (tenant, "ada"))).json()
    assert gaps["target_level"] == "group_pm"
    assert gaps["current_level"] == "senior_pm"
