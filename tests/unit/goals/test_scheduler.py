"""The reassessment scheduler's cadence: the update nudge every round, the day-granular checks
when a day, work found, or their own interval can have brought something (fakes only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import cast

from services.goals.reactions import GoalReactions, Looked
from services.goals.scheduler import ReviewScheduler

START = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeRepo:
    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
        return True


@dataclass
class FakeStore:
    clock: Clock


@dataclass
class FakeReactions:
    """Records which checks a round ran; ``found`` is what the next looks find."""

    store: FakeStore
    repo: FakeRepo = field(default_factory=FakeRepo)
    found: dict[str, int] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)

    def _look(self, name: str) -> Looked:
        self.ran.append(name)
        return Looked(self.found.get(name, 0), 0)

    async def emit_due_reviews(self, today: date) -> Looked:
        return self._look("reviews")

    async def assess_risks(self, today: date) -> Looked:
        return self._look("risks")

    async def emit_update_reminders(self, now: datetime) -> int:
        self.ran.append("nudges")
        return 0

    async def prune_guards(self) -> Looked:
        return self._look("prune")

    async def index_unbound_goals(self) -> int:
        return 0


def scheduler() -> tuple[ReviewScheduler, FakeReactions, Clock]:
    clock = Clock()
    reactions = FakeReactions(FakeStore(clock))
    scheduler = ReviewScheduler(
        cast(GoalReactions, reactions), interval_s=60, day_checks_every_s=900
    )
    return scheduler, reactions, clock


async def round_at(s: ReviewScheduler, r: FakeReactions, c: Clock, at: datetime) -> list[str]:
    c.now = at
    r.ran.clear()
    assert await s.tick()
    return list(r.ran)


DAY_CHECKS = ["reviews", "risks", "nudges", "prune"]


async def test_the_day_checks_look_at_the_first_round_then_only_every_interval() -> None:
    s, r, c = scheduler()
    assert await round_at(s, r, c, START) == DAY_CHECKS
    # nothing found: the next rounds look for nudges only, until the interval has passed
    assert await round_at(s, r, c, START + timedelta(minutes=1)) == ["nudges"]
    assert await round_at(s, r, c, START + timedelta(minutes=14)) == ["nudges"]
    assert await round_at(s, r, c, START + timedelta(minutes=15)) == DAY_CHECKS
    assert await round_at(s, r, c, START + timedelta(minutes=16)) == ["nudges"]


async def test_a_look_that_found_work_looks_again_at_the_next_round_until_none_is_left() -> None:
    s, r, c = scheduler()
    r.found = {"risks": 500}  # a batch: more may be waiting
    assert await round_at(s, r, c, START) == DAY_CHECKS
    r.found = {"prune": 3}
    assert await round_at(s, r, c, START + timedelta(minutes=1)) == DAY_CHECKS
    r.found = {}
    assert await round_at(s, r, c, START + timedelta(minutes=2)) == DAY_CHECKS
    assert await round_at(s, r, c, START + timedelta(minutes=3)) == ["nudges"]


async def test_a_new_day_looks_at_its_first_round() -> None:
    s, r, c = scheduler()
    late = START.replace(hour=23, minute=55)
    assert await round_at(s, r, c, late) == DAY_CHECKS
    # reviews come due and risk is assessed anew with the date, minutes after the last look
    assert await round_at(s, r, c, late + timedelta(minutes=6)) == DAY_CHECKS
    assert await round_at(s, r, c, late + timedelta(minutes=7)) == ["nudges"]
