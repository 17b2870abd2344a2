"""The weekly update nudge of the goal aggregate: idle N days, once a week, activity resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.goals.domain import Goal
from services.goals.nudges import iso_week
from services.goals.progress import DataPoint, KeyResult, KpiBinding
from shared.events.goals import GoalUpdateReminderDue

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)  # a Monday
N = 7


def active_goal(status: str = "active") -> Goal:
    g = Goal(
        id="g1",
        tenant="acme",
        owner_id="pm",
        title="Raise adoption",
        horizon="short_term",
        key_results={
            "adoption": KeyResult(
                "adoption", "Adoption", 0, 100, 0, kpi=KpiBinding("adoption", {}, "latest")
            ),
            "talks": KeyResult("talks", "Talks", 0, 4, 0),
        },
    )
    if status != "draft":
        g.change_status("active", by="pm", today=NOW.date(), now=NOW)
    if status in ("achieved", "abandoned"):
        g.change_status(status, by="pm", today=NOW.date(), now=NOW)  # type: ignore[arg-type]
    g.events.clear()
    return g


def reminders(g: Goal) -> list[GoalUpdateReminderDue]:
    return [p.payload for p in g.events if isinstance(p.payload, GoalUpdateReminderDue)]


def days(n: float) -> datetime:
    return NOW + timedelta(days=n)


def test_an_idle_active_goal_is_reminded_once_n_days_after_its_last_activity() -> None:
    g = active_goal()
    assert not g.update_reminder(days(6.9), N)
    assert g.update_check_at == days(7)  # the scheduler need not look before then
    assert g.update_reminder(days(7), N)
    [due] = reminders(g)
    assert (due.idle_days, due.stale_after_days, due.last_activity_at) == (7, 7, NOW)
    assert due.week == iso_week(days(7)) == "2026-W11"
    assert g.events[0].key == ("g1", "update_reminder", "2026-W11")  # one id per goal and week


def test_a_reminded_goal_waits_a_week_for_the_next_reminder() -> None:
    g = active_goal()
    assert g.update_reminder(days(7), N)
    assert not g.update_reminder(days(8), N)
    assert not g.update_reminder(days(13.9), N)
    assert g.update_check_at == days(14)
    assert g.update_reminder(days(14), N)
    weeks = [r.week for r in reminders(g)]
    assert weeks == ["2026-W11", "2026-W12"]


def test_a_check_in_within_n_days_skips_the_reminder_and_restarts_the_count() -> None:
    g = active_goal()
    g.check_in(
        check_in_id="c1",
        by="pm",
        values={"talks": 1},
        confidence=None,
        note=None,
        activity=None,
        today=days(5).date(),
        now=days(5),
        margin=0.15,
    )
    g.events.clear()
    assert not g.update_reminder(days(7), N)
    assert not g.update_reminder(days(11.9), N)
    assert g.update_reminder(days(12), N)


def test_a_check_in_that_moves_nothing_still_counts_and_is_announced() -> None:
    g = active_goal()
    g.check_in(
        check_in_id="c1",
        by="pm",
        values={},
        confidence=0.8,
        note="no change this week",
        activity=None,
        today=days(6).date(),
        now=days(6),
        margin=0.15,
    )
    assert [p.payload.event_type for p in g.events] == ["northstar.goal.checked_in.v1"]
    g.events.clear()
    assert not g.update_reminder(days(7), N)


def test_kpi_movement_counts_but_a_point_that_moves_nothing_does_not() -> None:
    g = active_goal()
    moved = DataPoint("p1", "adoption", 10, days(3), "src", {})
    assert g.apply_datapoint(moved, now=days(3), margin=0.15)
    assert g.last_activity_at == days(3)
    same = DataPoint("p2", "adoption", 10, days(4), "src", {})  # same value: no movement
    assert g.apply_datapoint(same, now=days(4), margin=0.15)
    assert g.last_activity_at == days(3)
    g.events.clear()
    assert not g.update_reminder(days(9.9), N)
    assert g.update_reminder(days(10), N)


def test_drafts_and_finished_goals_are_never_reminded() -> None:
    for status in ("draft", "achieved", "abandoned"):
        g = active_goal(status)
        assert not g.update_reminder(days(60), N), status
        assert reminders(g) == []


def test_the_tenants_n_decides_when_a_goal_is_idle() -> None:
    g = active_goal()
    assert not g.update_reminder(days(2.5), 3)
    assert g.update_reminder(days(3), 3)
