"""The pure parts of the load bench: schedule, population, percentiles, lag, knee, CPU."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.goals.progress import (
    DataPoint,
    KeyResult,
    KpiBinding,
    goal_progress,
    milestones_crossed,
)
from tests.bench.load.plan import (
    Population,
    bounded,
    cpu_share,
    cpu_ticks,
    crossed,
    drain_seconds,
    group_lag,
    knee,
    lag_growth_per_s,
    latency_summary,
    machine_busy_ticks,
    org_chart,
    percentile,
    recipients,
    schedule,
    slope,
    tree_ticks,
    windows,
    worst,
)
from tests.bench.load.report import slowest_windows, targets

# ------------------------------------------------------------------ schedule


def test_schedule_spaces_sends_evenly_at_the_rate_for_the_duration() -> None:
    offsets = schedule(200, 60)
    assert len(offsets) == 12_000
    assert offsets[0] == 0
    assert offsets[1] == pytest.approx(0.005)
    assert offsets[-1] == pytest.approx(59.995)


def test_schedule_is_empty_without_rate_or_time() -> None:
    assert schedule(0, 60) == []
    assert schedule(50, 0) == []


# ------------------------------------------------------------------ population


def test_org_chart_gives_every_contributor_a_manager_and_a_mentor_of_another_team() -> None:
    chart = org_chart(200, 20)
    assert chart[0].manager is None
    assert all(p.manager == 0 for p in chart[1:20])
    contributors = chart[20:]
    assert len(contributors) == 180
    for p in contributors:
        assert p.manager is not None
        assert p.mentor is not None
        assert p.mentor != p.manager
        assert len(set(recipients(p))) == 3


def test_crossed_names_the_milestone_between_two_progress_values() -> None:
    assert crossed(0.24375, 0.25625) == "0.25"
    assert crossed(0.25625, 0.26875) is None
    assert crossed(0.74375, 0.75625) == "0.75"


def _real_key_results(population: Population) -> dict[int, list[KeyResult]]:
    return {
        g.index: [
            KeyResult(
                id=f"{g.index}-{n}",
                title="kr",
                start=0,
                target=100,
                current=round(100 * g.phase, 6),
                kpi=KpiBinding(b.metric, b.filters, "latest"),
            )
            for n, b in enumerate(g.bindings)
        ]
        for g in population.goals
    }


def test_predicted_milestones_are_the_ones_the_goals_domain_fires() -> None:
    """Every point applied to the goals service's own key results: the bench's prediction of
    which point crosses which milestone must be what the service will do."""
    population = Population.build(people=40, managers=5, goals=60, seed=3)
    krs = _real_key_results(population)
    reached: dict[int, set[str]] = {g: set() for g in krs}
    at = datetime(2026, 1, 1, tzinfo=UTC)
    predicted = fired = 0
    for k in range(3000):
        point = population.next_point()
        when = at + timedelta(seconds=k)
        data = DataPoint(f"p{k}", point.metric, point.value, when, "s", point.dimensions)
        moved = [
            (g, kr)
            for g, goal_krs in krs.items()
            for kr in goal_krs
            if kr.apply(data, (None, None))
        ]
        if point.goal is None:
            assert moved == []
            continue
        assert [g for g, _ in moved] == [point.goal]
        progress = goal_progress(krs[point.goal])
        new = milestones_crossed(progress, reached[point.goal])
        reached[point.goal].update(label for label, _ in new)
        assert [label for label, _ in new] == ([point.milestone] if point.milestone else [])
        predicted += point.milestone is not None
        fired += len(new)
    assert predicted == fired > 0


def test_about_five_percent_of_matching_points_cross_and_a_tenth_match_nothing() -> None:
    population = Population.build()
    points = [population.next_point() for _ in range(20_000)]
    matching = [p for p in points if p.goal is not None]
    crossing = [p for p in matching if p.milestone is not None]
    assert len(matching) / len(points) == pytest.approx(0.9, abs=0.01)
    assert len(crossing) / len(matching) == pytest.approx(0.05, abs=0.005)
    assert population.exhausted == 0


def test_no_goal_is_driven_to_achieved_so_every_goal_stays_active() -> None:
    population = Population.build(people=10, managers=3, goals=5, unmatched_share=0)
    points = [population.next_point() for _ in range(1000)]
    assert all(g.progress(population.step) < 1.0 for g in population.goals)
    assert "1.0" not in {p.milestone for p in points}
    assert population.exhausted > 0
    assert points[-1].goal is None


def test_points_of_one_series_only_ever_rise() -> None:
    population = Population.build(goals=50, people=20, managers=4)
    last: dict[tuple[str, str, str], float] = {}
    for _ in range(2000):
        p = population.next_point()
        if p.goal is None:
            continue
        key = (p.metric, p.dimensions["product"], p.dimensions["region"])
        assert p.value > last.get(key, -1.0)
        last[key] = p.value


def test_goals_are_visited_far_apart_so_a_series_cannot_overtake_itself() -> None:
    population = Population.build()
    seen: dict[int, int] = {}
    gaps = []
    for k in range(5000):
        p = population.next_point()
        if p.goal is not None:
            if p.goal in seen:
                gaps.append(k - seen[p.goal])
            seen[p.goal] = k
    assert min(gaps) > 900


# ------------------------------------------------------------------ percentiles


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None


def test_a_single_slow_sample_in_a_hundred_is_the_p99_not_hidden() -> None:
    values = [0.010] * 98 + [0.020, 5.0]
    assert latency_summary(values)["p99_ms"] == 20.0
    assert latency_summary(values)["max_ms"] == 5000.0
    assert latency_summary([]) == {
        "n": 0,
        "p50_ms": None,
        "p95_ms": None,
        "p99_ms": None,
        "max_ms": None,
    }


# ------------------------------------------------------------------ lag


def test_group_lag_sums_end_minus_committed_over_partitions() -> None:
    ends = {"t0": 100, "t1": 50, "t2": 10}
    assert group_lag({"t0": 90, "t1": 50, "t2": 10}, ends, {}) == 10
    # no commit yet (None, or Kafka's -1): the group starts from the beginning
    assert group_lag({"t0": 100, "t1": None, "t2": -1}, ends, {"t1": 20, "t2": 4}) == 36
    # a commit read after the end offsets: caught up, never negative
    assert group_lag({"t0": 105, "t1": 50, "t2": 10}, ends, {}) == 0


def test_worst_keeps_each_groups_largest_lag() -> None:
    samples = [(0.0, {"goals": 3, "notifications": 9}), (1.0, {"goals": 7, "notifications": 1})]
    assert worst(samples) == {"goals": 7, "notifications": 9}


def test_drain_time_counts_from_the_end_of_the_step_to_the_first_all_zero_sample() -> None:
    samples = [
        (9.0, {"a": 0, "b": 0}),  # before the end: does not count
        (10.5, {"a": 4, "b": 0}),
        (11.0, {"a": 1, "b": 2}),
        (12.25, {"a": 0, "b": 0}),
    ]
    assert drain_seconds(samples, 10.0) == pytest.approx(2.25)
    assert drain_seconds(samples[:3], 10.0) is None
    assert drain_seconds([(10.0, {"a": 0})], 10.0) == 0.0


def test_lag_growth_is_the_slope_over_the_second_half_of_the_step() -> None:
    assert slope([(0, 0), (1, 2), (2, 4)]) == pytest.approx(2)
    assert slope([(1, 5)]) == 0.0
    # a warm-up bump in the first half, then flat: not growing
    flat = [(t, {"g": 500 if t < 30 else 40}) for t in range(60)]
    assert lag_growth_per_s(flat, 0, 60) == pytest.approx(0)
    growing = [(t, {"g": 10 * t, "h": t}) for t in range(60)]
    assert lag_growth_per_s(growing, 0, 60) == pytest.approx(11)
    # a broker too slow to answer the samples: unknown, not flat
    assert lag_growth_per_s([(40, {"g": 900}), (55, {"g": 900})], 0, 60) is None


def test_bounded_needs_flat_lag_and_a_quick_drain() -> None:
    assert bounded(rate=200, growth_per_s=1.0, drain_s=0.5, max_drain_s=10)
    assert not bounded(rate=200, growth_per_s=20.0, drain_s=0.5, max_drain_s=10)
    assert not bounded(rate=200, growth_per_s=0.0, drain_s=30.0, max_drain_s=10)
    assert not bounded(rate=200, growth_per_s=0.0, drain_s=None, max_drain_s=10)
    assert not bounded(rate=200, growth_per_s=None, drain_s=0.5, max_drain_s=10)


def test_knee_is_the_last_bounded_rate_climbing_from_the_lowest() -> None:
    steps = [
        {"rate": 100, "bounded": True},
        {"rate": 50, "bounded": True},
        {"rate": 200, "bounded": False},
        {"rate": 400, "bounded": True},  # a lucky step past a failure is not the knee
    ]
    assert knee(steps) == 100
    assert knee([{"rate": 50, "bounded": False}]) is None
    assert knee([]) is None


# ------------------------------------------------------------------ CPU and targets


def test_cpu_ticks_read_utime_and_stime_even_with_odd_process_names() -> None:
    stat = "4242 (northstar serve) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1500 250 0 0 20 0 9"
    assert cpu_ticks(stat) == 1750
    assert cpu_share(1000, 1600, 3.0, 100) == 2.0
    assert cpu_share(0, 10, 0.0, 100) is None


def _stat(pid: int, ppid: int, utime: int, cutime: int = 0) -> str:
    return f"{pid} (post gres) S {ppid} 1 1 0 -1 4194560 0 0 0 0 {utime} 1 {cutime} 1 20 0 1"


def test_a_process_counts_with_its_descendants_and_their_reaped_children() -> None:
    stats = {
        10: _stat(10, 1, 100, cutime=40),  # the postmaster: 40 ticks of backends gone
        11: _stat(11, 10, 300),  # a backend
        12: _stat(12, 11, 50),  # its child
        20: _stat(20, 10, 7),  # counted on its own line
        30: _stat(30, 1, 1000),  # not in the tree
    }
    # utime + stime (1) + cutime + cstime (1) of 10, 11 and 12
    assert tree_ticks(stats, 10, apart={20}) == (100 + 1 + 40 + 1) + (300 + 2) + (50 + 2)
    assert tree_ticks(stats, 20) == 7 + 2
    assert tree_ticks(stats, 99) is None


def test_targets_say_by_how_much_a_miss_misses() -> None:
    step = {
        "rate": 200.0,
        "to_goal_progress": {"p99_ms": 1000.0},
        "to_inbox_item": {"p99_ms": 400.0},
        "drain_s": None,
    }
    progress, inbox, drain = targets([step])
    assert (progress["met"], progress["over_by"]) == (False, 4.0)
    assert inbox["met"]
    assert not drain["met"]
    assert "never back to 0" in drain["note"]
    assert all(t["value"] is None for t in targets([{**step, "rate": 100.0}]))


def test_the_machine_is_busy_for_every_tick_but_idle_and_iowait() -> None:
    stat = "cpu  100 5 40 900 30 2 3 1 7 0\ncpu0 50 2 20 450 15 1 1 0 3 0\nintr 1 2\n"
    assert machine_busy_ticks(stat) == 100 + 5 + 40 + 2 + 3 + 1


def test_windows_put_each_point_with_the_cpu_of_the_window_it_was_answered_in() -> None:
    readings = [(10.0, {"goals": 0, "docstore": 0}), (12.0, {"goals": 100, "docstore": 40})]
    readings.append((14.0, {"goals": 140, "docstore": 400}))
    points = [(10.5, 0.1), (11.9, 0.3), (12.0, 0.9), (13.0, 0.7), (14.0, 5.0)]
    first, second = windows(10.0, points, readings, hz=100)
    assert (first["t_s"], first["n"], first["progress_max_ms"]) == (0.0, 2, 300.0)
    assert first["cpu"] == {"goals": 0.5, "docstore": 0.2}
    # answered at the reading belongs to the window it opens; after the last one, to none
    assert (second["n"], second["progress_p50_ms"]) == (2, 700.0)
    assert second["cpu"] == {"goals": 0.2, "docstore": 1.8}
    step = {"rate": 200.0, "cpu_cores": {"goals": {"step": 0.35}, "docstore": {"step": 1.0}}}
    _, _, slowest = slowest_windows([{**step, "windows": [first, second]}], top=1)
    assert slowest == "  200/s at 2 s: 700/900 ms over 2 points; docstore +0.80, goals -0.15"
