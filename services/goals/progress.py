"""Key results and the arithmetic of progress, milestones and risk (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Literal

from shared.errors import InvalidInput, RuleNotMet

Direction = Literal["increase", "decrease"]
Aggregation = Literal["latest", "sum"]

DEFAULT_MILESTONES: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
PRECISION = 6  # progress is rounded so 0.75 computed as 0.7499999 still reaches its milestone


@dataclass(frozen=True)
class KpiBinding:
    """A key result that moves with a KPI: metric key, dimension filters, aggregation."""

    metric: str
    filters: Mapping[str, str] = field(default_factory=dict)
    aggregation: Aggregation = "latest"

    def matches(self, metric: str, dimensions: Mapping[str, str]) -> bool:
        """A data point matches when its metric is ours and it carries every filter value."""
        return metric == self.metric and all(
            dimensions.get(name) == value for name, value in self.filters.items()
        )


@dataclass(frozen=True)
class DataPoint:
    """One KPI data point as the goals service sees it."""

    id: str
    metric: str
    value: float
    timestamp: datetime
    source_id: str
    dimensions: Mapping[str, str] = field(default_factory=dict)


@dataclass
class KeyResult:
    id: str
    title: str
    start: float
    target: float
    current: float
    unit: str = ""
    direction: Direction = "increase"
    weight: float = 1.0
    kpi: KpiBinding | None = None
    # the timestamp of the data point ``current`` came from (latest aggregation only)
    latest_at: datetime | None = None

    def validate(self) -> None:
        if not self.title.strip():
            raise InvalidInput("a key result needs a title")
        if self.weight <= 0:
            raise InvalidInput(f"key result {self.title!r}: weight must be positive")
        if self.start == self.target:
            raise RuleNotMet(f"key result {self.title!r}: start and target must differ")
        if self.direction == "increase" and self.target < self.start:
            raise RuleNotMet(
                f"key result {self.title!r}: an increasing key result needs target > start"
            )
        if self.direction == "decrease" and self.target > self.start:
            raise RuleNotMet(
                f"key result {self.title!r}: a decreasing key result needs target < start"
            )

    @property
    def progress(self) -> float:
        return key_result_progress(self.start, self.target, self.current)

    def apply(self, point: DataPoint, period: tuple[date | None, date | None]) -> bool:
        """Move ``current`` with a matching data point; False when the point changes nothing.

        ``latest`` never lets an older point overwrite a newer one; ``sum`` counts a point
        only inside the goal's period (the caller makes sure each point id counts once).
        """
        if self.kpi is None or not self.kpi.matches(point.metric, point.dimensions):
            return False
        if self.kpi.aggregation == "latest":
            if self.latest_at is not None and point.timestamp <= self.latest_at:
                return False
            self.latest_at = point.timestamp
            changed = self.current != point.value
            self.current = point.value
            return changed
        if not within(point.timestamp, period):
            return False
        self.current = round(self.current + point.value, 9)
        return point.value != 0


def within(moment: datetime, period: tuple[date | None, date | None]) -> bool:
    """Whether a moment falls in a period of whole UTC days (open ends allowed)."""
    start, end = period
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if start is not None and moment < datetime.combine(start, time.min, UTC):
        return False
    return not (end is not None and moment > datetime.combine(end, time.max, UTC))


def key_result_progress(start: float, target: float, current: float) -> float:
    """clamp((current - start) / (target - start), 0, 1); works for both directions."""
    if target == start:
        return 1.0 if current == target else 0.0
    return round(min(1.0, max(0.0, (current - start) / (target - start))), PRECISION)


def goal_progress(key_results: Iterable[KeyResult]) -> float:
    """The weighted mean of the key results' progress (0 without key results)."""
    total = weighted = 0.0
    for kr in key_results:
        total += kr.weight
        weighted += kr.weight * kr.progress
    return round(weighted / total, PRECISION) if total > 0 else 0.0


@dataclass(frozen=True)
class Checkpoint:
    """A dated milestone: reach ``progress`` by ``due_on``."""

    label: str
    due_on: date
    progress: float


def milestones_crossed(
    progress: float,
    reached: Iterable[str],
    thresholds: Sequence[float] = DEFAULT_MILESTONES,
    checkpoints: Sequence[Checkpoint] = (),
) -> list[tuple[str, float]]:
    """Milestones (label, threshold) that ``progress`` reaches and that have not fired yet."""
    done = set(reached)
    crossed = [(milestone_label(t), t) for t in thresholds if progress >= t]
    crossed += [(c.label, c.progress) for c in checkpoints if progress >= c.progress]
    return [(label, t) for label, t in sorted(crossed, key=lambda m: m[1]) if label not in done]


def milestone_label(threshold: float) -> str:
    return str(float(threshold))


def expected_progress(
    today: date, start: date | None, due: date | None, checkpoints: Sequence[Checkpoint] = ()
) -> float | None:
    """The share of the period elapsed, raised by any checkpoint whose date has passed.

    None when the goal has no period to measure against.
    """
    expected: float | None = None
    if start is not None and due is not None and due > start:
        elapsed = (today - start).days / (due - start).days
        expected = min(1.0, max(0.0, elapsed))
    passed = [c.progress for c in checkpoints if c.due_on <= today]
    if passed:
        expected = max(expected or 0.0, *passed)
    return round(expected, PRECISION) if expected is not None else None


def is_at_risk(progress: float, expected: float | None, margin: float) -> bool:
    """At risk when progress trails the expected share by more than the tenant's margin."""
    return expected is not None and progress < 1.0 and expected - progress > margin
