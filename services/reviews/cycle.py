"""A review cycle: HR creates it, launches it (a review per person), closes calibration,
releases it. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.reviews.records import (
    STEPS,
    CycleStatus,
    PendingEvent,
    PopulationKind,
    StepOutOfOrder,
)
from shared.errors import Conflict, InvalidInput, RuleNotMet
from shared.events.envelope import EventPayload
from shared.events.reviews import ReviewCycleLaunched, ReviewReminderDue, Step

MAX_PERIOD = timedelta(days=3 * 366)
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


@dataclass(frozen=True)
class Population:
    kind: PopulationKind
    value: str | None = None  # the department name or the SCIM group id

    def __post_init__(self) -> None:
        if (self.kind == "everyone") != (self.value is None):
            raise InvalidInput("a department or group population names it; everyone names none")


@dataclass
class Cycle:
    id: str
    tenant: str
    name: str
    period_start: date
    period_end: date
    population: Population
    deadlines: dict[str, date]
    created_by: str
    created_at: datetime
    status: CycleStatus = "draft"
    review_count: int = 0
    launched_at: datetime | None = None
    calibration_closed_at: datetime | None = None
    released_at: datetime | None = None
    reminded: list[str] = field(default_factory=list)
    version: int = 0
    events: list[PendingEvent] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls, **values: Any) -> Cycle:
        """A new cycle (draft) whose name, period and deadlines hold together."""
        cycle = cls(**values)
        if not cycle.name.strip() or len(cycle.name) > 200:
            raise InvalidInput("a cycle needs a name of at most 200 characters")
        if cycle.period_end < cycle.period_start:
            raise RuleNotMet("the period ends before it starts")
        if not (cycle.period_start >= EARLIEST and cycle.period_end <= LATEST):
            raise RuleNotMet(f"the period lies between {EARLIEST} and {LATEST}")
        if cycle.period_end - cycle.period_start > MAX_PERIOD:
            raise RuleNotMet("a review period lasts at most three years")
        missing = [s for s in STEPS if s not in cycle.deadlines]
        if missing or set(cycle.deadlines) - set(STEPS):
            raise InvalidInput(f"deadlines are needed for exactly these steps: {list(STEPS)}")
        d = cycle.deadlines
        # the reminder job does date arithmetic on them: keep them near the period
        latest = cycle.period_end + MAX_PERIOD
        if any(not cycle.period_start <= day <= latest for day in d.values()):
            raise RuleNotMet("deadlines fall between the period's start and 3 years after its end")
        ordered = [
            ("self_review", "manager_review"),
            ("peer_feedback", "manager_review"),
            ("manager_review", "calibration"),
            ("calibration", "release"),
        ]
        for before, after in ordered:
            if d[before] > d[after]:
                raise RuleNotMet(f"the {before} deadline must not be after the {after} one")
        return cycle

    def launch(self, review_count: int, by: str, now: datetime) -> None:
        if self.status != "draft":
            raise Conflict(f"cycle {self.id} is already {self.status}")
        if review_count == 0:
            raise Conflict("the population of this cycle has nobody in it")
        self.status, self.review_count, self.launched_at = "launched", review_count, now
        self._record(
            ReviewCycleLaunched(
                cycle_id=self.id,
                tenant=self.tenant,
                name=self.name,
                period_start=self.period_start,
                period_end=self.period_end,
                review_count=review_count,
                deadlines=dict(self.deadlines),
                launched_by=by,
            ),
            "launched",
        )

    def close_calibration(self, now: datetime) -> None:
        if self.status != "launched":
            raise StepOutOfOrder(
                f"calibration closes on a launched cycle; this one is {self.status}"
            )
        self.calibration_closed_at = self.calibration_closed_at or now

    def release(self, now: datetime) -> None:
        if self.status != "launched":
            raise StepOutOfOrder(f"only a launched cycle is released; this one is {self.status}")
        self.status, self.released_at = "released", now
        self.calibration_closed_at = self.calibration_closed_at or now

    def step_done(self, step: Step) -> bool:
        if step == "calibration":
            return self.calibration_closed_at is not None or self.status == "released"
        return self.status == "released"

    def remind(self, today: date, lead: timedelta) -> int:
        """Remind HR (the cycle's creator) of its own steps due soon; each once."""
        if self.status != "launched":
            return 0
        count = 0
        for step in ("calibration", "release"):
            due = self.deadlines[step]
            if step in self.reminded or self.step_done(step) or not due - lead <= today <= due:
                continue
            self.reminded.append(step)
            self._record(
                ReviewReminderDue(
                    cycle_id=self.id,
                    tenant=self.tenant,
                    step=step,
                    recipient_id=self.created_by,
                    due_on=due,
                ),
                "reminder",
                step,
            )
            count += 1
        return count

    def _record(self, payload: EventPayload, *key: str) -> None:
        self.events.append(PendingEvent(payload, ("review-cycle", self.tenant, self.id, *key)))
