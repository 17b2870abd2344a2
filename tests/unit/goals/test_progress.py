"""Key-result progress, weights, direction, milestones and risk arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.goals.progress import (
    Checkpoint,
    DataPoint,
    KeyResult,
    KpiBinding,
    expected_progress,
    goal_progress,
    is_at_risk,
    key_result_progress,
    milestones_crossed,
)
from shared.errors import InvalidInput


def kr(start: float, target: float, current: float, weight: float = 1.0, **kw) -> KeyResult:
    direction = "increase" if target >= start else "decrease"
    return KeyResult(
        id=kw.pop("id", "k"),
        title="kr",
        start=start,
        target=target,
        current=current,
        direction=direction,
        weight=weight,
        **kw,
    )


def point(pid: str, value: float, day: int, **dims: str) -> DataPoint:
    return DataPoint(
        id=pid,
        metric="adoption",
        value=value,
        timestamp=datetime(2026, 3, day, tzinfo=UTC),
        source_id="src",
        dimensions=dims,
    )


@pytest.mark.parametrize(
    ("start", "target", "current", "expected"),
    [
        (0, 100, 25, 0.25),
        (0, 100, 150, 1.0),  # clamped above
        (0, 100, -10, 0.0),  # clamped below
        (10, 20, 15, 0.5),
        (100, 40, 70, 0.5),  # decrease: 100 → 40, now 70
        (100, 40, 120, 0.0),  # decrease going the wrong way
        (100, 40, 10, 1.0),
    ],
)
def test_key_result_progress_is_the_clamped_share_of_the_way(start, target, current, expected):
    assert key_result_progress(start, target, current) == pytest.approx(expected)


def test_goal_progress_is_the_weighted_mean_of_key_results():
    krs = [kr(0, 10, 10, weight=3), kr(0, 10, 0, weight=1)]
    assert goal_progress(krs) == pytest.approx(0.75)


def test_goal_without_key_results_has_no_progress():
    assert goal_progress([]) == 0.0


@pytest.mark.parametrize(
    ("start", "target", "direction", "weight"),
    [(0, 0, "increase", 1), (10, 0, "increase", 1), (0, 10, "decrease", 1), (0, 10, "increase", 0)],
)
def test_inconsistent_key_results_are_refused(start, target, direction, weight):
    with pytest.raises(InvalidInput):
        KeyResult("k", "kr", start, target, start, direction=direction, weight=weight).validate()


def test_milestones_cross_once_in_threshold_order():
    assert milestones_crossed(0.6, []) == [("0.25", 0.25), ("0.5", 0.5)]
    assert milestones_crossed(0.6, ["0.25", "0.5"]) == []
    assert milestones_crossed(1.0, ["0.25", "0.5"]) == [("0.75", 0.75), ("1.0", 1.0)]


def test_dated_checkpoints_are_milestones_too():
    cp = Checkpoint("first customers", date(2026, 6, 1), 0.4)
    assert milestones_crossed(0.45, ["0.25"], checkpoints=[cp]) == [("first customers", 0.4)]


def test_kpi_binding_matches_metric_and_every_filter():
    binding = KpiBinding("adoption", {"product": "mobile"})
    assert binding.matches("adoption", {"product": "mobile", "region": "eu"})
    assert not binding.matches("adoption", {"product": "web"})
    assert not binding.matches("adoption", {})
    assert not binding.matches("revenue", {"product": "mobile"})


def test_latest_never_lets_an_older_point_overwrite_a_newer_one():
    k = kr(0, 100, 0, kpi=KpiBinding("adoption"))
    period = (None, None)
    assert k.apply(point("p2", 60, 2), period)
    assert not k.apply(point("p1", 30, 1), period)
    assert k.current == 60
    assert k.apply(point("p3", 70, 3), period)
    assert k.current == 70


def test_sum_adds_points_inside_the_goal_period_only():
    k = kr(0, 100, 0, kpi=KpiBinding("adoption", aggregation="sum"))
    period = (date(2026, 3, 2), date(2026, 3, 10))
    assert not k.apply(point("before", 5, 1), period)
    assert k.apply(point("in", 7, 2), period)
    assert k.apply(point("in2", 3, 10), period)
    assert not k.apply(point("after", 9, 11), period)
    assert k.current == 10


def test_expected_progress_is_the_elapsed_share_raised_by_passed_checkpoints():
    start, due = date(2026, 1, 1), date(2026, 1, 11)
    assert expected_progress(date(2026, 1, 6), start, due) == pytest.approx(0.5)
    assert expected_progress(date(2027, 1, 1), start, due) == 1.0
    assert expected_progress(date(2026, 1, 6), None, None) is None
    cp = Checkpoint("half", date(2026, 1, 3), 0.8)
    assert expected_progress(date(2026, 1, 6), start, due, [cp]) == pytest.approx(0.8)


def test_at_risk_when_progress_trails_by_more_than_the_margin():
    assert is_at_risk(0.2, 0.5, margin=0.1)
    assert not is_at_risk(0.45, 0.5, margin=0.1)
    assert not is_at_risk(0.0, None, margin=0.1)
    assert not is_at_risk(1.0, 1.0, margin=0.0)
