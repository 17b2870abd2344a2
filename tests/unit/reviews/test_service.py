"""Use cases over fakes: launch, the reminder round, release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from services.reviews.common import ReviewStore
from services.reviews.cycle import Population
from services.reviews.growth import CareerService
from services.reviews.repository import ReviewRepository
from services.reviews.service import NewCycle, Policy, ReviewService
from shared.auth import Principal
from shared.errors import NotFound
from tests.doubles import SettableClock
from tests.unit.reviews.fakes import FakeDirectory, FakeReviews

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
HR = Principal("acme", "hr", frozenset({"hr_admin"}))


def world() -> tuple[ReviewService, FakeReviews, SettableClock]:
    directory, repo, clock = FakeDirectory(), FakeReviews(), SettableClock(NOW)
    directory.add("acme", "max", None, "Product")
    directory.add("acme", "ada", "max", "Product")
    directory.add("acme", "sam", None, "Sales")
    directory.add("other", "ada", None, "Product")
    store = ReviewStore(cast(ReviewRepository, repo), directory, clock=clock)
    career = CareerService(store, cast(Any, None))
    return ReviewService(store, career, cast(Any, None), Policy(reminder_lead_days=3)), repo, clock


def new_cycle(department: str = "Product") -> NewCycle:
    today = NOW.date()
    steps = ("self_review", "peer_feedback", "manager_review", "calibration", "release")
    return NewCycle(
        name="H1",
        period_start=today - timedelta(days=180),
        period_end=today,
        population=Population("department", department),
        deadlines={s: today + timedelta(days=10 + 5 * n) for n, s in enumerate(steps)},
    )


async def test_launch_opens_one_review_per_person_of_the_department_once() -> None:
    service, repo, _ = world()
    cycle = await service.create_cycle(HR, new_cycle())
    launched = await service.launch(HR, cycle.id)
    assert launched.review_count == 2
    assigned = sorted(e.data["person_id"] for e in repo.of_type("assigned"))
    assert assigned == ["ada", "max"]  # not sam (Sales), not tenant "other"
    [ada] = [e for e in repo.of_type("assigned") if e.data["person_id"] == "ada"]
    assert ada.data["manager_id"] == "max"
    assert len(repo.of_type("cycle_launched")) == 1


async def test_the_reminder_round_sends_each_due_step_once() -> None:
    service, repo, clock = world()
    cycle = await service.create_cycle(HR, new_cycle())
    await service.launch(HR, cycle.id)
    clock.advance(timedelta(days=8))
    assert await service.remind(clock.today()) == 2  # ada's and max's self reviews
    assert await service.remind(clock.today()) == 0
    ids = [e.id for e in repo.of_type("reminder_due")]
    assert len(ids) == len(set(ids)) == 2


async def test_a_review_is_read_by_its_parties_only() -> None:
    service, repo, _ = world()
    cycle = await service.create_cycle(HR, new_cycle())
    await service.launch(HR, cycle.id)
    [ada] = [d["id"] for d in repo.reviews.values() if d["person_id"] == "ada"]
    _, rel = await service.review(Principal("acme", "max", frozenset({"employee"})), ada)
    assert rel.manager
    assert not rel.person
    for outsider in (
        Principal("acme", "sam"),
        Principal("other", "ada"),
        Principal("other", "hr", frozenset({"hr_admin"})),
    ):
        with pytest.raises(NotFound):
            await service.review(outsider, ada)
