"""The pure parts of the load bench: population, arrival schedule, lag, CPU and the knee.

No I/O here, so every number the bench prints can be checked by a unit test.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

# gauges of the built-in catalogue (kpi_ingest BUILTIN_METRICS): "latest" is their aggregation
METRICS = ("adoption_rate", "retention_rate", "csat", "nps", "collaboration_score", "active_users")
REGIONS = ("emea", "amer", "apac", "latam")
PLATFORMS = ("web", "ios", "android")  # a dimension no filter names: points carry more than asked
MILESTONE_SPACING = 0.25  # the default milestones 0.25/0.5/0.75/1.0
TARGET = 100.0  # every key result runs from 0 to 100 (percent-like)


# ------------------------------------------------------------------ the schedule


def schedule(rate: float, duration_s: float) -> list[float]:
    """Open-loop send offsets: point k is due at k / rate seconds, whatever came before."""
    if rate <= 0 or duration_s <= 0:
        return []
    return [k / rate for k in range(round(rate * duration_s))]


# ------------------------------------------------------------------ the population


@dataclass(frozen=True)
class Person:
    index: int
    external_id: str
    manager: int | None  # index of the manager
    mentor: int | None  # index of the mentor (a manager of another team)

    @property
    def email(self) -> str:
        return f"{self.external_id.lower()}@load.example"


def org_chart(people: int, managers: int) -> list[Person]:
    """A head, ``managers - 1`` managers reporting to the head, everyone else in their teams.

    Each individual contributor is mentored by the manager of the next team, so a
    celebration of their goal reaches three different people: owner, manager and mentor.
    """
    if managers < 3 or people <= managers:
        raise ValueError("need at least 3 managers and more people than managers")
    teams = managers - 1
    chart = [Person(0, "E0000", None, None)]
    chart += [Person(i, f"E{i:04d}", 0, None) for i in range(1, managers)]
    for i in range(managers, people):
        team = (i - managers) % teams
        chart.append(Person(i, f"E{i:04d}", 1 + team, 1 + (team + 1) % teams))
    return chart


def recipients(owner: Person) -> list[int]:
    """Who a celebration of this person's goal reaches (notifications' rule: owner, manager,
    mentors)."""
    return [i for i in (owner.index, owner.manager, owner.mentor) if i is not None]


@dataclass(frozen=True)
class Binding:
    """The series a key result is bound to: metric plus the filter ``{product, region}``."""

    metric: str
    product: str
    region: str

    @property
    def filters(self) -> dict[str, str]:
        return {"product": self.product, "region": self.region}


@dataclass
class GoalPlan:
    index: int
    owner: int
    phase: float  # progress at creation, strictly between two milestones
    bindings: list[Binding]
    points: int = 0  # points sent to it so far

    def kr_value(self, kr: int, step: float) -> float:
        """``current`` of key result ``kr`` after its share of ``points`` (round robin)."""
        n = len(self.bindings)
        count = self.points // n + (1 if kr < self.points % n else 0)
        return round(TARGET * (self.phase + count * n * step), 6)

    def progress(self, step: float) -> float:
        return self.phase + self.points * step


def crossed(before: float, after: float, spacing: float = MILESTONE_SPACING) -> str | None:
    """The milestone label (as the goals service writes it) a move from before to after
    crosses, if any; the population never lands exactly on one."""
    low, high = math.floor(before / spacing + 1e-9), math.floor(after / spacing + 1e-9)
    if high > low:
        return str(float(high * spacing))
    return None


@dataclass(frozen=True)
class PlannedPoint:
    metric: str
    dimensions: dict[str, str]
    value: float
    goal: int | None  # None: no goal binds this series
    milestone: str | None  # the milestone this point makes its goal cross


@dataclass
class Population:
    """1,000 goals over an org chart, and the arithmetic of which point moves what.

    Every point of a goal moves its progress by ``step``; goals start at a phase spread
    evenly between 0 and the first milestone, so from the first point on a share ``step /
    0.25`` of the matching points crosses a milestone (5 % with the default step 0.0125).
    Goals are visited in a fixed shuffled order, so two points of one key result are about
    a thousand points apart and cannot overtake each other on the way in.
    """

    people: list[Person]
    goals: list[GoalPlan]
    step: float
    unmatched_share: float
    rng: random.Random
    order: list[int] = field(default_factory=list)
    cursor: int = 0
    exhausted: int = 0  # points that found no goal with room and went unmatched instead

    @classmethod
    def build(
        cls,
        *,
        people: int = 200,
        managers: int = 20,
        goals: int = 1000,
        two_kr_share: float = 0.3,
        crossing_share: float = 0.05,
        unmatched_share: float = 0.1,
        seed: int = 13,
    ) -> Population:
        rng = random.Random(seed)
        chart = org_chart(people, managers)
        step = MILESTONE_SPACING * crossing_share
        phases_per_gap = max(1, round(MILESTONE_SPACING / step))
        n_krs = [2 if rng.random() < two_kr_share else 1 for _ in range(goals)]
        products = math.ceil(sum(n_krs) * 1.2 / (len(METRICS) * len(REGIONS)))
        combos = [
            Binding(m, f"p{p:03d}", r) for m in METRICS for p in range(products) for r in REGIONS
        ]
        rng.shuffle(combos)
        plans: list[GoalPlan] = []
        for g, n in enumerate(n_krs):
            bindings, combos = combos[:n], combos[n:]
            # phases on half steps: progress never lands exactly on a milestone
            phase = ((g % phases_per_gap) + 0.5) * step
            plans.append(GoalPlan(g, g % people, phase, bindings))
        order = list(range(goals))
        rng.shuffle(order)
        return cls(chart, plans, step, unmatched_share, rng, order)

    @property
    def key_results(self) -> int:
        return sum(len(g.bindings) for g in self.goals)

    def _has_room(self, goal: GoalPlan) -> bool:
        # stop short of 1.0: an achieved goal is no longer active, so later points would miss
        return goal.progress(self.step) + 2 * self.step < 1.0

    def _next_goal(self) -> GoalPlan | None:
        for _ in range(len(self.order)):
            goal = self.goals[self.order[self.cursor % len(self.order)]]
            self.cursor += 1
            if self._has_room(goal):
                return goal
        return None

    def next_point(self) -> PlannedPoint:
        platform = PLATFORMS[self.rng.randrange(len(PLATFORMS))]
        goal = None
        if self.rng.random() >= self.unmatched_share:
            goal = self._next_goal()
            self.exhausted += goal is None
        if goal is None:
            # a product no goal binds: ingested, stored, and matched against nothing
            product = f"legacy{self.rng.randrange(20):02d}"
            return PlannedPoint(
                METRICS[self.rng.randrange(len(METRICS))],
                {"product": product, "region": REGIONS[0], "platform": platform},
                round(self.rng.uniform(0, TARGET), 3),
                None,
                None,
            )
        kr = goal.points % len(goal.bindings)
        before = goal.progress(self.step)
        goal.points += 1
        binding = goal.bindings[kr]
        return PlannedPoint(
            binding.metric,
            {**binding.filters, "platform": platform},
            goal.kr_value(kr, self.step),
            goal.index,
            crossed(before, goal.progress(self.step)),
        )


# ------------------------------------------------------------------ percentiles


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest rank: the smallest value with at least ``q`` of the samples at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(round(q * len(ordered), 9)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int | None]:
    def ms(q: float) -> float | None:
        v = percentile(seconds, q)
        return None if v is None else round(v * 1000, 1)

    return {
        "n": len(seconds),
        "p50_ms": ms(0.50),
        "p95_ms": ms(0.95),
        "p99_ms": ms(0.99),
        "max_ms": ms(1.0),
    }


# ------------------------------------------------------------------ consumer lag

TP = TypeVar("TP")


def group_lag(
    committed: Mapping[TP, int | None], ends: Mapping[TP, int], beginnings: Mapping[TP, int]
) -> int:
    """Records a group has still to consume, summed over the partitions of its topics.

    A partition without a committed offset counts from its beginning, which is where the
    services' consumers (``auto_offset_reset="earliest"``) would start. A committed offset
    past the end (the end read a moment earlier) counts as caught up.
    """
    lag = 0
    for tp, end in ends.items():
        start = committed.get(tp)
        if start is None or start < 0:
            start = beginnings.get(tp, 0)
        lag += max(0, end - start)
    return lag


Sample = tuple[float, Mapping[str, int]]  # (time, lag of each group)


def worst(samples: Iterable[Sample]) -> dict[str, int]:
    """The largest lag of each group over the samples."""
    top: dict[str, int] = {}
    for _, lags in samples:
        for group, lag in lags.items():
            top[group] = max(top.get(group, 0), lag)
    return top


def drain_seconds(samples: Sequence[Sample], end: float) -> float | None:
    """Seconds from ``end`` until every group's lag is 0 (None: it never was in the samples)."""
    for t, lags in samples:
        if t >= end and all(v == 0 for v in lags.values()):
            return max(0.0, t - end)
    return None


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0 with fewer than two distinct x)."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / sxx


MIN_SAMPLES = 3


def lag_growth_per_s(samples: Sequence[Sample], start: float, end: float) -> float | None:
    """How fast the total lag grew over the second half of a step (records per second): a
    consumer that keeps up holds it flat however high it went during the warm-up. None with
    fewer than three samples there (a broker too slow to answer is no evidence of flat lag)."""
    middle = start + (end - start) / 2
    half = [(t, float(sum(lags.values()))) for t, lags in samples if middle <= t <= end]
    return slope(half) if len(half) >= MIN_SAMPLES else None


def bounded(
    *, rate: float, growth_per_s: float | None, drain_s: float | None, max_drain_s: float
) -> bool:
    """Lag stays bounded at this rate: it does not keep growing through the step (by more
    than 2 % of the arrivals) and it is gone within ``max_drain_s`` of the step's end."""
    if growth_per_s is None or drain_s is None:
        return False
    return drain_s <= max_drain_s and growth_per_s <= 0.02 * rate


def knee(steps: Sequence[Mapping[str, Any]]) -> float | None:
    """The highest rate, climbing from the lowest, up to which every step kept its lag
    bounded (None: not even the first did)."""
    best: float | None = None
    for step in sorted(steps, key=lambda s: float(s["rate"])):
        if not step["bounded"]:
            break
        best = float(step["rate"])
    return best


# ------------------------------------------------------------------ CPU


def _after_name(stat: str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` from field 3 (state) on: the name may hold spaces."""
    return stat[stat.rindex(")") + 2 :].split()


def cpu_ticks(stat: str) -> int:
    """utime + stime (fields 14 and 15) from the text of ``/proc/<pid>/stat``."""
    fields = _after_name(stat)
    return int(fields[11]) + int(fields[12])


def parent_pid(stat: str) -> int:
    """The parent's pid from the text of ``/proc/<pid>/stat`` (field 4)."""
    return int(_after_name(stat)[1])


def children_of(stats: Mapping[int, str]) -> dict[int, list[int]]:
    """Parent pid -> its children's pids, from the text of ``/proc/<pid>/stat`` of every process."""
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        with contextlib.suppress(ValueError, IndexError):
            children.setdefault(parent_pid(stat), []).append(pid)
    return children


def tree_ticks(
    stats: Mapping[int, str],
    root: int,
    *,
    apart: Collection[int] = (),
    children: Mapping[int, list[int]] | None = None,
) -> int | None:
    """CPU ticks of ``root`` and of its descendants (None: ``root`` is gone), from the text of
    ``/proc/<pid>/stat`` of every process: PostgreSQL's backends are its postmaster's children.

    Each process counts its own time and its reaped children's (``cutime + cstime``), so a
    backend that exits between two readings moves into its parent's count instead of vanishing;
    ``apart``: processes counted on their own line, not inside an ancestor's; ``children``:
    ``children_of(stats)``, when the caller reads several trees of one snapshot."""
    if root not in stats:
        return None
    if children is None:
        children = children_of(stats)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        # utime, stime, cutime, cstime: fields 14-17
        total += sum(int(f) for f in _after_name(stats[pid])[11:15])
        todo += [child for child in children.get(pid, []) if child not in apart]
    return total


def machine_busy_ticks(proc_stat: str) -> int:
    """Ticks every CPU spent busy, from the text of ``/proc/stat``: its ``cpu`` line less idle
    and iowait (guest time is already inside user time)."""
    line = next(li for li in proc_stat.splitlines() if li.startswith("cpu "))
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, line.split()[1:9])
    return user + nice + system + irq + softirq + steal


def cpu_share(before: int, after: int, seconds: float, hz: int) -> float | None:
    """Cores used between two tick readings (1.0 = one core busy all the time)."""
    if seconds <= 0:
        return None
    return round((after - before) / hz / seconds, 3)


def windows(
    start: float,
    points: Sequence[tuple[float, float]],
    readings: Sequence[tuple[float, Mapping[str, int]]],
    hz: int,
) -> list[dict[str, Any]]:
    """The step cut into windows between consecutive tick readings: the 202 → goal progress
    latency of the points answered in each, and each process's cores over it.

    ``points``: (answered, latency) in seconds; ``readings``: (time, ticks) in time order.
    A burst of slow points beside the process whose CPU rose with it names its trigger."""
    out: list[dict[str, Any]] = []
    for (t0, c0), (t1, c1) in itertools.pairwise(readings):
        latencies = [lat for at, lat in points if t0 <= at < t1]
        summary = latency_summary(latencies)
        out.append(
            {
                "t_s": round(t0 - start, 1),
                "n": summary["n"],
                "progress_p50_ms": summary["p50_ms"],
                "progress_max_ms": summary["max_ms"],
                "cpu": {
                    name: cpu_share(c0[name], c1[name], t1 - t0, hz) for name in c1 if name in c0
                },
            }
        )
    return out
