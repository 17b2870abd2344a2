"""Who gets what, on which channel, and why: the real handlers over fakes, no servers."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from services.notifications.delivery import DIGEST, PENDING, SUPPRESSED
from services.notifications.domain import Preferences, TenantDefaults
from shared.auth import Principal
from shared.errors import NotFound
from shared.events.feedback import FeedbackRequested, FeedbackSubmitted
from shared.events.goals import (
    GoalAbandoned,
    GoalAchieved,
    GoalCreated,
    GoalMilestoneReached,
    GoalReviewDue,
)
from shared.events.kpi import KpiDatapointRecorded, KpiThresholdCrossed
from shared.events.people import MentorshipRequested, MentorshipStarted, PersonUpserted
from tests.unit.notifications.conftest import START, TENANT, World

GOAL = {"tenant": TENANT, "title": "Ship the launch", "horizon": "short_term"}


def milestone(owner: str = "ada", goal_id: str = "g1") -> GoalMilestoneReached:
    return GoalMilestoneReached(
        **GOAL, goal_id=goal_id, owner_id=owner, status="active", progress=0.5, milestone="0.5"
    )


def review_due(owner: str = "ada", goal_id: str = "g1") -> GoalReviewDue:
    return GoalReviewDue(
        **GOAL,
        goal_id=goal_id,
        owner_id=owner,
        status="active",
        reason="cadence",
        due_on=date(2026, 3, 12),
    )


def request(reviewer: str = "rex", request_id: str = "r1") -> FeedbackRequested:
    return FeedbackRequested(
        request_id=request_id,
        tenant=TENANT,
        subject_id="ada",
        requester_id="ada",
        reviewer_id=reviewer,
        relationship="peer",
    )


def crossed(metric: str = "adoption") -> KpiThresholdCrossed:
    return KpiThresholdCrossed(
        tenant=TENANT,
        metric=metric,
        threshold=0.3,
        direction="up",
        value=0.31,
        datapoint_id="dp1",
        timestamp=START,
    )


def admin() -> Principal:
    return Principal(tenant=TENANT, person_id="boss", roles=frozenset({"admin"}))


async def test_a_milestone_is_celebrated_with_the_owner_their_manager_and_mentors(
    world: World,
) -> None:
    world.person("ada", manager_id="max")
    world.person("max")
    world.person("mia")
    world.directory.mentors[(TENANT, "ada")] = ["mia", "max"]  # max is also a mentor
    await world.receive(milestone())
    reasons = {n.recipient_id: n.recipient_reason for n in world.notifications.stored()}
    # each person once, explained by the first role that made them a recipient
    assert reasons == {"ada": "owner", "max": "manager", "mia": "mentors"}
    [ada] = world.notifications.of("ada")
    assert ada.title == "Milestone reached: Ship the launch"
    assert ada.summary == "The goal \u201cShip the launch\u201d reached its 0.5 milestone (50 %)."
    assert ada.data == {"goal_id": "g1", "owner_id": "ada", "milestone": "0.5", "progress": 0.5}
    assert [(d.channel, d.status) for d in world.deliveries.of("ada")] == [("email", PENDING)]


async def test_a_redelivered_event_notifies_nobody_twice(world: World) -> None:
    world.person("ada")
    event = await world.receive(milestone())
    await world.deliver(event)
    await world.deliver(event)
    assert len(world.notifications.of("ada")) == 1
    assert len(world.deliveries.of("ada")) == 1


async def test_inactive_people_are_not_notified(world: World) -> None:
    world.person("ada", manager_id="max")
    world.person("max", active=False)
    await world.receive(milestone())
    assert world.notifications.of("max") == []
    assert len(world.notifications.of("ada")) == 1


async def test_a_person_choice_picks_the_channels_and_digest_waits(world: World) -> None:
    world.person("ada")
    prefs = Preferences(
        channels={"review_due": {"email": "digest", "inbox": "off", "slack": "on"}},
        slack_webhook_url="https://hooks.slack.test/ada",
    )
    await world.preferences.save(TENANT, "ada", prefs)
    await world.receive(review_due())
    [item] = world.notifications.of("ada")
    assert not item.in_inbox  # kept for "why", not shown in the inbox
    channels = {d.channel: d.status for d in world.deliveries.of("ada")}
    assert channels == {"email": DIGEST, "slack": PENDING}
    assert [(d.channel, d.setting, d.source) for d in item.decisions] == [
        ("inbox", "off", "person"),
        ("email", "digest", "person"),
        ("slack", "on", "person"),
    ]


async def test_a_locked_tenant_default_wins_over_the_person(world: World) -> None:
    world.person("ada")
    await world.preferences.save(
        TENANT, "ada", Preferences(channels={"celebration": {"email": "on"}})
    )
    await world.preferences.save_defaults(
        TENANT,
        TenantDefaults(
            channels={"celebration": {"email": "off"}}, locked=frozenset({"celebration"})
        ),
    )
    await world.receive(milestone())
    [item] = world.notifications.of("ada")
    assert item.decisions[1].source == "tenant_locked"
    assert world.deliveries.of("ada") == []


async def test_no_email_without_an_address_and_no_slack_without_a_url(world: World) -> None:
    world.person("ada", email=None)
    await world.receive(milestone())
    [item] = world.notifications.of("ada")
    assert [d.reason for d in item.decisions[1:]] == [
        "the person has no email address",
        "no Slack webhook URL is set",
    ]
    assert world.deliveries.of("ada") == []


async def test_kpi_alerts_go_to_the_owners_of_active_goals_bound_to_the_metric(
    world: World,
) -> None:
    for owner in ("ada", "bob", "cy"):
        world.person(owner)
    for goal_id, owner, metrics in (("g1", "ada", ["adoption"]), ("g2", "bob", ["adoption"])):
        await world.receive(
            GoalCreated(
                **GOAL, goal_id=goal_id, owner_id=owner, status="active", bound_metrics=metrics
            )
        )
    await world.receive(
        GoalCreated(**GOAL, goal_id="g3", owner_id="cy", status="active", bound_metrics=["nps"])
    )
    await world.receive(GoalAbandoned(**GOAL, goal_id="g2", owner_id="bob", status="abandoned"))
    await world.receive(crossed())
    assert [n.recipient_id for n in world.notifications.stored()] == ["ada"]
    # KPI chatter goes to the email digest by default
    assert [(d.channel, d.status) for d in world.deliveries.of("ada")] == [("email", DIGEST)]


async def test_only_a_newly_created_person_is_welcomed(world: World) -> None:
    world.person("ada")
    world.person("bob")
    await world.receive(PersonUpserted(id="ada", tenant=TENANT, user_name="ada", created=True))
    await world.receive(PersonUpserted(id="bob", tenant=TENANT, user_name="bob"))
    assert [n.title for n in world.notifications.of("ada")] == ["Welcome to Northstar"]
    assert world.notifications.of("bob") == []


async def test_an_answer_drops_the_reviewers_reminder_unless_the_request_is_anonymous(
    world: World,
) -> None:
    world.person("rex")
    world.person("sam")
    await world.receive(request("rex", "r1"))
    await world.receive(request("sam", "r2"))
    submitted = {"tenant": TENANT, "subject_id": "ada", "requester_id": "ada"}
    await world.receive(
        FeedbackSubmitted(**submitted, request_id="r1", anonymous=False, reviewer_id="rex")
    )
    await world.receive(FeedbackSubmitted(**submitted, request_id="r2", anonymous=True))
    [rex] = world.deliveries.of("rex")
    assert (rex.status, rex.reason) == (SUPPRESSED, "the reviewer already answered")
    [sam] = world.deliveries.of("sam")
    assert sam.status == PENDING


async def test_an_achieved_goal_drops_its_review_reminders(world: World) -> None:
    world.person("ada")
    await world.receive(review_due())
    await world.receive(GoalAchieved(**GOAL, goal_id="g1", owner_id="ada", status="achieved"))
    reminder = next(d for d in world.deliveries.of("ada") if d.event_type.endswith("review_due.v1"))
    assert (reminder.status, reminder.reason) == (SUPPRESSED, "the goal is achieved")


async def test_webhook_subscribers_get_the_types_they_ask_for_as_cloudevents(
    world: World,
) -> None:
    for sub_id, types, active in (
        ("s1", ["northstar.goal.*"], True),
        ("s2", ["northstar.feedback.requested.v1"], True),
        ("s3", ["northstar.goal.*"], False),
        ("s4", ["northstar.kpi.*"], True),
    ):
        await world.subscribe(sub_id, types, active=active)
    event = await world.receive(milestone(), subject="g1")
    await world.receive(
        KpiDatapointRecorded(
            id="dp",
            tenant=TENANT,
            metric="adoption",
            value=1,
            timestamp=START,
            source_id="src",
            source_event_id="e",
        )
    )
    [hook] = world.deliveries.of("s1")
    assert (hook.channel, hook.category, hook.status) == ("webhook", "celebration", PENDING)
    body = orjson.loads(hook.payload or "")
    assert (body["specversion"], body["id"], body["type"]) == ("1.0", event.id, event.type)
    assert body["data"]["goal_id"] == "g1"
    # not asked for, disabled, or raw data points (never offered)
    assert world.deliveries.of("s2") == world.deliveries.of("s3") == world.deliveries.of("s4") == []


async def test_why_explains_the_rule_and_the_decisions_to_the_recipient_only(
    world: World,
) -> None:
    world.person("ada", manager_id="max")
    world.person("max")
    await world.receive(milestone())
    [item] = world.notifications.of("max")
    ada = Principal(tenant=TENANT, person_id="ada", roles=frozenset({"employee"}))
    with pytest.raises(NotFound):
        await world.center.why(ada, item.id)
    max_ = Principal(tenant=TENANT, person_id="max", roles=frozenset({"employee"}))
    why = await world.center.why(max_, item.id)
    assert why.recipient_reason == "manager"
    assert why.rule.name == "northstar.goal.milestone_reached.v1"
    assert why.rule.description.startswith("a goal milestone is celebrated")
    assert [d.channel for d in why.deliveries] == ["email"]
    assert (await world.center.why(admin(), item.id)).recipient_id == "max"
    log = await world.center.deliveries(admin(), item.event_id)
    assert sorted((d.recipient_id, d.channel) for d in log) == [
        ("ada", "email"),
        ("ada", "inbox"),
        ("max", "email"),
        ("max", "inbox"),
    ]


async def test_a_mentorship_request_asks_the_mentor_once_with_a_link_to_the_mentee(
    world: World,
) -> None:
    world.person("mia")
    world.person("ada")
    asked = MentorshipRequested(
        id="m1", tenant=TENANT, mentor_id="mia", mentee_id="ada", focus_skills=["leadership"]
    )
    event = await world.receive(asked, subject="m1")
    await world.deliver(event)  # redelivered: nothing new
    assert [n.recipient_id for n in world.notifications.stored()] == ["mia"]
    [item] = world.notifications.of("mia")
    assert (item.category, item.recipient_reason) == ("mentorship", "person")
    assert item.title == "You are asked to be a mentor"
    assert "on leadership" in item.summary
    assert item.data == {"mentee_id": "ada", "mentorship_id": "m1"}
    assert item.page == "/people/ada"
    assert [(d.channel, d.status, d.page) for d in world.deliveries.of("mia")] == [
        ("email", PENDING, "/people/ada")
    ]
    # the start that follows the mentor's acceptance tells nobody anything
    await world.receive(MentorshipStarted(id="m1", tenant=TENANT, mentor_id="mia", mentee_id="ada"))
    assert len(world.notifications.stored()) == 1


async def test_a_mentor_who_turned_mentorship_requests_off_gets_no_email(world: World) -> None:
    world.person("mia")
    await world.preferences.save(
        TENANT, "mia", Preferences(channels={"mentorship": {"email": "off", "inbox": "on"}})
    )
    await world.receive(
        MentorshipRequested(id="m2", tenant=TENANT, mentor_id="mia", mentee_id="ada"),
        subject="m2",
    )
    [item] = world.notifications.of("mia")
    assert item.in_inbox
    assert item.decisions[1].source == "person"
    assert world.deliveries.of("mia") == []
