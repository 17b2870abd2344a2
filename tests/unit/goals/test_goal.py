"""The goal aggregate: lifecycle, data points, milestones once, risk, reviews."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.goals.domain import Goal
from services.goals.progress import DataPoint, KeyResult, KpiBinding
from services.goals.records import APPLIED_WINDOW
from shared.errors import Conflict, InvalidInput

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
TODAY = NOW.date()


def goal(*, horizon: str = "short_term", aggregation: str = "latest", **kw) -> Goal:
    g = Goal(
        id="g1",
        tenant="acme",
        owner_id="pm",
        title="Raise adoption",
        horizon=horizon,  # type: ignore[arg-type]
        key_results={
            "adoption": KeyResult(
                "adoption",
                "Adoption",
                0,
                100,
                0,
                kpi=KpiBinding("adoption", {"product": "mobile"}, aggregation),  # type: ignore[arg-type]
            ),
            "talks": KeyResult("talks", "Talks", 0, 4, 0),
        },
        **kw,
    )
    g.change_status("active", by="pm", today=TODAY, now=NOW)
    g.events.clear()
    return g


def point(pid: str, value: float, hours: int = 0, product: str = "mobile") -> DataPoint:
    return DataPoint(
        pid, "adoption", value, NOW + timedelta(hours=hours), "src", {"product": product}
    )


def types(g: Goal) -> list[str]:
    return [p.payload.event_type.split(".")[2] for p in g.events]


def milestones(g: Goal) -> list[str]:
    return [p.payload.milestone for p in g.events if hasattr(p.payload, "milestone")]


def test_a_matching_datapoint_moves_progress_and_says_why():
    g = goal()
    assert g.apply_datapoint(point("dp1", 60, 1), now=NOW, margin=0.1)
    assert g.progress == pytest.approx(0.3)  # (0.6 + 0) / 2
    [progress] = [
        p.payload for p in g.events if p.payload.event_type.endswith("progress_updated.v1")
    ]
    assert progress.old_progress == 0.0
    assert progress.new_progress == pytest.approx(0.3)
    assert progress.cause.kind == "kpi"
    assert progress.cause.datapoint_id == "dp1"
    assert progress.bound_metrics == ["adoption"]
    assert milestones(g) == ["0.25"]


def test_the_same_datapoint_twice_moves_progress_once():
    g = goal(aggregation="sum")
    assert g.apply_datapoint(point("dp1", 30, 1), now=NOW, margin=0.1)
    assert not g.apply_datapoint(point("dp1", 30, 1), now=NOW, margin=0.1)
    assert g.key_results["adoption"].current == 30


def test_points_of_other_dimensions_do_not_touch_the_goal():
    g = goal()
    assert not g.apply_datapoint(point("dp1", 90, 1, product="web"), now=NOW, margin=0.1)
    assert g.progress == 0.0
    assert g.applied == []


def test_an_older_point_arriving_late_is_remembered_but_changes_nothing():
    g = goal()
    g.apply_datapoint(point("new", 80, 2), now=NOW, margin=0.1)
    g.events.clear()
    assert g.apply_datapoint(point("old", 20, 1), now=NOW, margin=0.1)
    assert g.key_results["adoption"].current == 80
    assert g.events == []
    assert g.has_applied("old")


def test_each_milestone_fires_once_even_when_progress_goes_down_and_up_again():
    g = goal()
    g.apply_datapoint(point("a", 100, 1), now=NOW, margin=0.1)  # 0.5
    g.apply_datapoint(point("b", 0, 2), now=NOW, margin=0.1)  # 0.0
    g.apply_datapoint(point("c", 100, 3), now=NOW, margin=0.1)  # 0.5 again
    assert milestones(g) == ["0.25", "0.5"]


def test_reaching_full_progress_marks_the_goal_achieved():
    g = goal()
    g.check_in(
        check_in_id="c1",
        by="pm",
        values={"talks": 4},
        confidence=0.9,
        note=None,
        activity=None,
        today=TODAY,
        now=NOW,
        margin=0.1,
    )
    g.apply_datapoint(point("a", 120, 1), now=NOW, margin=0.1)
    assert g.progress == 1.0
    assert g.status == "achieved"
    assert types(g).count("achieved") == 1
    assert milestones(g) == ["0.25", "0.5", "0.75", "1.0"]
    # an achieved goal ignores further points
    assert not g.apply_datapoint(point("z", 0, 5), now=NOW, margin=0.1)


def test_check_ins_cannot_set_kpi_bound_key_results():
    g = goal()
    with pytest.raises(InvalidInput):
        g.check_in(
            check_in_id="c1",
            by="pm",
            values={"adoption": 50},
            confidence=None,
            note=None,
            activity=None,
            today=TODAY,
            now=NOW,
            margin=0.1,
        )


def test_check_in_records_who_moved_progress():
    g = goal()
    g.check_in(
        check_in_id="c1",
        by="pm",
        values={"talks": 2},
        confidence=0.5,
        note="two talks",
        activity={"kind": "course", "title": "Speaking"},
        today=TODAY,
        now=NOW,
        margin=0.1,
    )
    kinds = [e.kind for e in g.new_timeline]
    assert kinds[-2:] == ["check_in", "progress"]
    assert g.new_timeline[-1].data["cause"] == {"kind": "check_in", "by": "pm", "check_in_id": "c1"}


def test_status_moves_only_along_the_lifecycle():
    g = goal()
    g.change_status("abandoned", by="pm", today=TODAY, now=NOW)
    assert types(g) == ["abandoned"]
    with pytest.raises(Conflict):
        g.change_status("active", by="pm", today=TODAY, now=NOW)


def test_at_risk_fires_when_progress_trails_elapsed_time_and_again_only_after_recovering():
    g = goal(start_date=date(2026, 1, 1), due_date=date(2026, 1, 11))
    assert g.assess_risk(date(2026, 1, 6), margin=0.1)  # 50 % elapsed, no progress
    assert not g.assess_risk(date(2026, 1, 7), margin=0.1)  # still at risk: no new event
    assert types(g) == ["at_risk"]
    assert g.events[0].payload.expected_progress == pytest.approx(0.5)
    g.key_results["talks"].current = 4  # progress 0.5
    g.progress = 0.5
    assert not g.assess_risk(date(2026, 1, 6), margin=0.1)
    assert not g.at_risk
    # the flag's end is told too (goal.updated, changed at_risk), once per flag
    cleared = g.events[-1].payload
    assert (cleared.event_type, cleared.changed, cleared.at_risk) == (
        "northstar.goal.updated.v1",
        ["at_risk"],
        False,
    )
    g.progress = 0.0
    assert g.assess_risk(date(2026, 1, 6), margin=0.1)
    assert g.events[-1].payload.at_risk is True
    assert [p.key for p in g.events] == [
        ("g1", "at_risk", "1"),
        ("g1", "risk_cleared", "1"),
        ("g1", "at_risk", "2"),
    ]


def test_tenant_margin_decides_at_risk():
    g = goal(start_date=date(2026, 1, 1), due_date=date(2026, 1, 11))
    assert not g.assess_risk(date(2026, 1, 4), margin=0.5)
    assert g.assess_risk(date(2026, 1, 4), margin=0.2)


def test_cadence_review_fires_once_per_due_date():
    g = goal(review_every_days=30)
    g.next_review_on = TODAY
    assert g.cadence_review(TODAY, NOW)
    assert not g.cadence_review(TODAY, NOW)
    assert g.next_review_on == TODAY + timedelta(days=30)
    [due] = [p.payload for p in g.events]
    assert (due.reason, due.due_on) == ("cadence", TODAY)
    assert g.review_pending == "cadence"


def test_manager_change_puts_active_long_term_goals_up_for_review_once():
    long_term = goal(horizon="long_term")
    assert long_term.manager_changed(cause_id="e1", new_manager_id="m2", today=TODAY, now=NOW)
    assert not long_term.manager_changed(cause_id="e1", new_manager_id="m2", today=TODAY, now=NOW)
    [due] = [p.payload for p in long_term.events]
    assert (due.reason, due.new_manager_id) == ("manager_changed", "m2")
    short_term = goal()
    assert not short_term.manager_changed(cause_id="e1", new_manager_id="m2", today=TODAY, now=NOW)


def test_marking_reviewed_clears_the_pending_review_and_restarts_the_cadence():
    g = goal(horizon="long_term", review_every_days=90)
    g.manager_changed(cause_id="e1", new_manager_id="m2", today=TODAY, now=NOW)
    g.mark_reviewed(by="m2", note="ok", today=TODAY, now=NOW)
    assert g.review_pending is None
    assert g.next_review_on == TODAY + timedelta(days=90)


def test_old_applied_guards_are_pruned():
    g = goal()
    g.remember("old", NOW - timedelta(days=30))
    g.remember("new", NOW)
    assert g.prune_applied(NOW - timedelta(days=14)) == 1
    assert len(g.applied) == 1
    assert g.has_applied("new")
    assert not g.has_applied("old")


def test_applied_guards_keep_only_the_newest_window_however_long_the_history():
    g = goal(aggregation="sum")
    for i in range(APPLIED_WINDOW + 500):
        g.apply_datapoint(point(f"dp{i}", 0.01, 1), now=NOW, margin=0.1)
    assert len(g.applied) == APPLIED_WINDOW
    assert g.has_applied("dp500")
    assert not g.has_applied("dp499")
    # a redelivery of any point still in the window changes nothing
    before = g.key_results["adoption"].current
    assert not g.apply_datapoint(point("dp600", 0.01, 1), now=NOW, margin=0.1)
    assert g.key_results["adoption"].current == before


def test_editing_refuses_unknown_fields_and_a_bad_period():
    g = goal()
    with pytest.raises(InvalidInput):
        g.edit({"status": "achieved"}, NOW)
    with pytest.raises(InvalidInput):
        g.edit({"start_date": date(2026, 5, 1), "due_date": date(2026, 4, 1)}, NOW)


def test_goal_facts_carry_bound_metrics_and_feedback_reviewers():
    g = goal(feedback_reviewer_ids=["mentor"])
    facts = g.facts()
    assert facts["bound_metrics"] == ["adoption"]
    assert facts["feedback_reviewer_ids"] == ["mentor"]


def test_a_goal_starting_part_way_counts_that_as_its_baseline_not_as_milestones():
    g = Goal(
        id="g2",
        tenant="acme",
        owner_id="pm",
        title="Half done",
        horizon="short_term",
        key_results={"k": KeyResult("k", "K", 0, 10, 6)},
    )
    g.baseline()
    assert g.progress == pytest.approx(0.6)
    assert g.milestones_reached == ["0.25", "0.5"]
    g.change_status("active", by="pm", today=TODAY, now=NOW)
    g.check_in(
        check_in_id="c",
        by="pm",
        values={"k": 8},
        confidence=None,
        note=None,
        activity=None,
        today=TODAY,
        now=NOW,
        margin=0.1,
    )
    assert milestones(g) == ["0.75"]


def test_a_drafts_milestones_wait_for_activation():
    g = Goal(
        id="g3",
        tenant="acme",
        owner_id="pm",
        title="Draft",
        horizon="short_term",
        key_results={"k": KeyResult("k", "K", 0, 10, 0)},
    )
    g.replace_key_results(
        [KeyResult("k", "K", 0, 10, 10)], by="pm", today=TODAY, now=NOW, margin=0.1
    )
    assert g.progress == 1.0
    assert g.status == "draft"
    assert milestones(g) == []


def draft(aggregation: str, start_date: date | None = None) -> Goal:
    return Goal(
        id="g4",
        tenant="acme",
        owner_id="pm",
        title="Draft",
        horizon="short_term",
        start_date=start_date,
        key_results={
            "adoption": KeyResult(
                "adoption",
                "Adoption",
                0,
                100,
                0,
                kpi=KpiBinding("adoption", {"product": "mobile"}, aggregation),  # type: ignore[arg-type]
            )
        },
    )


def test_a_drafts_kpi_key_results_move_and_its_milestones_wait():
    g = draft("latest")
    assert g.apply_datapoint(point("dp1", 60, 1), now=NOW, margin=0.1)
    assert g.progress == pytest.approx(0.6)
    assert types(g) == ["progress_updated"]
    g.change_status("active", by="pm", today=TODAY, now=NOW)
    assert milestones(g) == []  # passed while drafting: the starting point, not a celebration
    assert g.milestones_reached == ["0.25", "0.5"]
    g.apply_datapoint(point("dp2", 80, 2), now=NOW, margin=0.1)
    assert milestones(g) == ["0.75"]


def test_a_drafts_sum_counts_only_inside_its_period():
    unstarted = draft("sum")
    unstarted.apply_datapoint(point("dp1", 30, 1), now=NOW, margin=0.1)
    assert unstarted.key_results["adoption"].current == 0  # no period before activation
    planned = draft("sum", start_date=TODAY)
    planned.apply_datapoint(point("dp1", 30, 1), now=NOW, margin=0.1)
    planned.apply_datapoint(point("dp0", 5, -24), now=NOW, margin=0.1)  # before the period
    assert planned.key_results["adoption"].current == 30


def test_a_finished_goal_takes_no_more_points():
    g = goal()
    g.change_status("abandoned", by="pm", today=TODAY, now=NOW)
    assert not g.apply_datapoint(point("dp1", 60, 1), now=NOW, margin=0.1)
