"""Nudges through notifications on fakes: the right person, and never sent once moot."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from services.notifications.delivery import DIGEST, PENDING, SUPPRESSED
from services.notifications.domain import Preferences, QuietHours
from shared.events import new_event
from shared.events.feedback import FeedbackReminderDue, FeedbackRequestExpired
from shared.events.goals import GoalCheckedIn, GoalProgressUpdated, GoalUpdateReminderDue
from tests.unit.notifications.conftest import TENANT, World

T0 = datetime(2026, 3, 9, 22, tzinfo=UTC)  # when the producing service made the reminder
GOAL = {
    "goal_id": "g1",
    "tenant": TENANT,
    "owner_id": "ada",
    "title": "Ship",
    "horizon": "short_term",
    "status": "active",
}
QUIET = Preferences(quiet_hours=QuietHours(time(7, 0), time(12, 0)))  # START is 08:00 UTC


def nudge() -> GoalUpdateReminderDue:
    return GoalUpdateReminderDue(**GOAL, idle_days=9, stale_after_days=7, week="2026-W11")


def checked_in() -> GoalCheckedIn:
    return GoalCheckedIn(**GOAL, check_in_id="c1", by="ada")


def reminder(anonymous: bool = False) -> FeedbackReminderDue:
    return FeedbackReminderDue(
        request_id="r1",
        tenant=TENANT,
        subject_id="sam",
        requester_id="sam",
        reviewer_id="rev",
        reminder="still_open",
        due_date=date(2026, 3, 12),
        expires_at=datetime(2026, 3, 13, tzinfo=UTC),
        anonymous=anonymous,
    )


async def quiet_person(world: World, who: str) -> None:
    world.person(who)
    await world.preferences.save(TENANT, who, QUIET)


async def test_an_update_nudge_goes_to_the_owner_as_a_nudge(world: World) -> None:
    world.person("ada")
    await world.receive(nudge(), time=T0)
    [item] = world.notifications.of("ada")
    assert (item.category, item.title) == ("nudge", "Update your key results: Ship")
    assert "no check-in and no KPI movement for 9 days" in item.summary
    await world.dispatcher.run_once()
    assert [m["Subject"] for m in world.email.sent] == ["Update your key results: Ship"]


async def test_a_nudge_held_by_quiet_hours_is_dropped_after_a_check_in(world: World) -> None:
    await quiet_person(world, "ada")
    await world.receive(nudge(), time=T0)
    await world.dispatcher.run_once()
    [email] = world.deliveries.of("ada", "email")
    assert email.status == PENDING  # waits for 12:00
    await world.receive(checked_in(), time=T0 + timedelta(hours=1))
    world.clock.advance(timedelta(hours=5))
    await world.dispatcher.run_once()
    assert world.email.sent == []
    [email] = world.deliveries.of("ada", "email")
    assert (email.status, email.reason) == (SUPPRESSED, "the goal was checked in since")


async def test_the_worker_checks_at_send_time_even_when_nothing_was_suppressed(
    world: World,
) -> None:
    """A settlement the push missed (the delivery was being sent, or it came first) still
    keeps the nudge from going out: the worker asks right before sending."""
    await quiet_person(world, "ada")
    await world.receive(nudge(), time=T0)
    await world.dispatcher.run_once()
    await world.settled.settle(TENANT, "goal-update:g1", T0 + timedelta(hours=1), "kpi moved")
    world.clock.advance(timedelta(hours=5))
    await world.dispatcher.run_once()
    assert world.email.sent == []
    [email] = world.deliveries.of("ada", "email")
    assert (email.status, email.reason) == (SUPPRESSED, "kpi moved")


async def test_activity_before_a_nudge_does_not_make_the_next_one_moot(world: World) -> None:
    world.person("ada")
    await world.receive(checked_in(), time=T0 - timedelta(days=8))
    await world.receive(nudge(), time=T0)
    await world.dispatcher.run_once()
    assert len(world.email.sent) == 1


async def test_kpi_movement_makes_the_nudge_moot_but_other_progress_does_not(
    world: World,
) -> None:
    await quiet_person(world, "ada")
    await world.receive(nudge(), time=T0)
    edited = GoalProgressUpdated(
        **GOAL, old_progress=0, new_progress=0.1, cause={"kind": "key_results_changed"}
    )
    await world.receive(edited, time=T0 + timedelta(minutes=1))
    assert world.deliveries.of("ada", "email")[0].status == PENDING
    moved = GoalProgressUpdated(
        **GOAL, old_progress=0.1, new_progress=0.2, cause={"kind": "kpi", "metric": "adoption"}
    )
    await world.receive(moved, time=T0 + timedelta(minutes=2))
    assert world.deliveries.of("ada", "email")[0].status == SUPPRESSED


async def test_a_nudge_already_moot_when_it_arrives_tells_nobody(world: World) -> None:
    world.person("ada")
    await world.receive(checked_in(), time=T0 + timedelta(hours=1))
    await world.receive(nudge(), time=T0)  # a lagging consumer, or a redelivery
    assert world.notifications.of("ada") == []
    assert world.deliveries.of("ada") == []


async def test_a_feedback_reminder_goes_to_the_reviewer_and_an_expiry_drops_it(
    world: World,
) -> None:
    await quiet_person(world, "rev")
    await world.receive(reminder(anonymous=True), time=T0)
    [item] = world.notifications.of("rev")
    assert (item.category, item.title) == ("nudge", "Reminder: your feedback is requested")
    await world.dispatcher.run_once()
    # an anonymous request's expiry names nobody: the request as a whole settles the reminder
    expired = FeedbackRequestExpired(
        request_id="r1", tenant=TENANT, subject_id="sam", requester_id="sam", open_count=2
    )
    await world.receive(expired, time=T0 + timedelta(days=3))
    world.clock.advance(timedelta(hours=5))
    await world.dispatcher.run_once()
    assert world.email.sent == []
    assert world.deliveries.of("rev", "email")[0].reason == "the feedback request expired"


async def test_a_moot_item_is_left_out_of_the_digest(world: World) -> None:
    world.person("ada")
    digest = Preferences(channels={"nudge": {"email": "digest"}}, digest_time=time(9, 0))
    await world.preferences.save(TENANT, "ada", digest)
    await world.receive(nudge(), time=T0)
    other = GoalUpdateReminderDue(
        **{**GOAL, "goal_id": "g2", "title": "Lead"}, idle_days=7, stale_after_days=7, week="W"
    )
    await world.receive(other, time=T0)
    assert {d.status for d in world.deliveries.of("ada", "email")} == {DIGEST}
    # settled while waiting, without the push (the worker's own check keeps it out)
    await world.settled.settle(TENANT, "goal-update:g1", T0 + timedelta(hours=1), "checked in")
    world.clock.advance(timedelta(hours=1, minutes=1))  # 09:01, the digest time
    await world.dispatcher.assemble_digests()
    await world.dispatcher.run_once()
    [mail] = world.email.sent
    assert mail["Subject"] == "Your Northstar digest: 1 update"
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Lead" in body
    assert "Ship" not in body


async def test_a_run_of_kpi_progress_drops_a_nudge_as_the_events_one_by_one_would(
    world: World,
) -> None:
    await quiet_person(world, "ada")
    await world.receive(nudge(), time=T0)
    assert world.deliveries.of("ada", "email")[0].status == PENDING
    run = [
        new_event(
            GoalProgressUpdated(
                **GOAL,
                old_progress=n / 10,
                new_progress=(n + 1) / 10,
                cause={"kind": "kpi", "metric": "adoption"},
            ),
            tenant=TENANT,
            subject="g1",
            source="tests",
            time=T0 + timedelta(minutes=n),
        )
        for n in (3, 1, 2)
    ]
    assert world.router.batches(GoalProgressUpdated.event_type)
    await world.router.dispatch_batch(run)
    [email] = world.deliveries.of("ada", "email")
    assert (email.status, email.reason) == (SUPPRESSED, "a KPI moved the goal since")
    # one settlement at the run's latest time, in one round trip each
    assert world.settled.done[(TENANT, "goal-update:g1")][0] == T0 + timedelta(minutes=3)
    assert (world.settled.bulk_settles, world.deliveries.bulk_suppressions) == (1, 1)


def kpi_moved(n: int) -> GoalProgressUpdated:
    return GoalProgressUpdated(
        **GOAL, old_progress=n / 100, new_progress=(n + 1) / 100, cause={"kind": "kpi"}
    )


async def test_a_goal_a_kpi_moves_again_within_a_minute_is_not_settled_again(
    world: World,
) -> None:
    """A nudge is made only for a goal idle for a day or more, so none can fall between two
    of its movements a minute apart: the second settles nothing new, and is not written."""
    await world.receive(kpi_moved(1), time=T0)
    await world.receive(kpi_moved(2), time=T0 + timedelta(seconds=59))
    assert world.settled.done[(TENANT, "goal-update:g1")][0] == T0
    assert (world.settled.bulk_settles, world.deliveries.bulk_suppressions) == (1, 1)
    # a minute after the last write: written again, and its waiting reminders looked for
    await world.receive(kpi_moved(3), time=T0 + timedelta(minutes=1))
    assert world.settled.done[(TENANT, "goal-update:g1")][0] == T0 + timedelta(minutes=1)
    assert (world.settled.bulk_settles, world.deliveries.bulk_suppressions) == (2, 2)
    # an older event (out of order) changes nothing either
    await world.receive(kpi_moved(0), time=T0 + timedelta(seconds=30))
    assert world.settled.bulk_settles == 2


async def test_a_check_in_right_after_kpi_movement_is_still_settled_with_its_reason(
    world: World,
) -> None:
    await world.receive(kpi_moved(1), time=T0)
    await world.receive(checked_in(), time=T0 + timedelta(seconds=10))
    assert world.settled.done[(TENANT, "goal-update:g1")] == (
        T0 + timedelta(seconds=10),
        "the goal was checked in since",
    )
    assert world.settled.bulk_settles == 2


async def test_other_refs_are_settled_every_time(world: World) -> None:
    expired = FeedbackRequestExpired(
        request_id="r1",
        tenant=TENANT,
        subject_id="sam",
        requester_id="sam",
        open_reviewer_ids=["rev"],
    )
    await world.receive(expired, time=T0)
    await world.receive(expired, time=T0 + timedelta(seconds=1))
    assert world.settled.done[(TENANT, "feedback:r1:rev")][0] == T0 + timedelta(seconds=1)
    assert world.settled.bulk_settles == 2
