"""The reports' projection on the real store: a redelivered event never counts twice, an older
event never overwrites a newer state, the same ids in two tenants stay apart, and events about
an erased person are dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.people.reports.aggregate import GoalFact
from services.people.reports.projection import reports_router
from services.people.reports.repository import ReportStore
from shared.events.envelope import Envelope, EventPayload, new_event
from shared.events.feedback import FeedbackReleased, FeedbackRequested, FeedbackSubmitted
from shared.events.goals import (
    GoalAtRisk,
    GoalCheckedIn,
    GoalCreated,
    GoalProgressUpdated,
    GoalUpdated,
    ProgressCause,
)
from tests.integration.people.conftest import People

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
GOAL: dict[str, Any] = {
    "goal_id": "g1",
    "owner_id": "p1",
    "title": "t",
    "horizon": "short_term",
    "status": "active",
}


def store_of(people: People) -> ReportStore:
    store: ReportStore = people.client._transport.app.state.reports.facts  # type: ignore[attr-defined]
    return store


def event(payload: EventPayload, tenant: str, minutes: int) -> Envelope:
    return new_event(
        payload, tenant=tenant, subject="x", source="test", time=T0 + timedelta(minutes=minutes)
    )


async def test_redelivery_and_reordering_change_nothing(people: People) -> None:
    store = store_of(people)
    router = reports_router(store)
    created = event(GoalCreated(**GOAL, tenant="ta"), "ta", 0)
    at_risk = event(GoalAtRisk(**GOAL, tenant="ta", at_risk=True, expected_progress=0.8), "ta", 2)
    cleared = event(GoalUpdated(**GOAL, tenant="ta", changed=["at_risk"]), "ta", 3)
    checked = event(GoalCheckedIn(**GOAL, tenant="ta", check_in_id="c1", by="p1"), "ta", 1)
    # the same ids in another tenant: another goal and check-in
    other = event(GoalCheckedIn(**GOAL, tenant="tb", check_in_id="c1", by="p1"), "tb", 1)
    for envelope in (created, checked, at_risk, cleared, checked, at_risk, created, other):
        assert await router.dispatch(envelope)
    goals: list[GoalFact] = await store.goal_facts("ta")
    assert len(goals) == 1
    # the redelivered at-risk event is older than the clearing one: the flag stays off
    assert goals[0].at_risk is False
    assert goals[0].created_at == T0
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    assert len(await store.check_in_facts("ta", start, end)) == 1
    assert len(await store.check_in_facts("tb", start, end)) == 1

    asked = [
        event(
            FeedbackRequested(
                request_id="r1",
                tenant="ta",
                subject_id="p1",
                requester_id="p1",
                reviewer_id=reviewer,
                relationship="peer",
            ),
            "ta",
            0,
        )
        for reviewer in ("p2", "p3", "p4")
    ]
    answer = event(
        FeedbackSubmitted(
            request_id="r1", tenant="ta", subject_id="p1", requester_id="p1", anonymous=True
        ),
        "ta",
        5,
    )
    release = event(
        FeedbackReleased(
            request_id="r1",
            tenant="ta",
            subject_id="p1",
            requester_id="p1",
            response_count=3,
            ratings=[{"communication": 4}, {"communication": 5}, {"communication": 3}],
        ),
        "ta",
        6,
    )
    for envelope in [*asked, answer, release, *asked, answer, release]:
        assert await router.dispatch(envelope)
    requests, answers = await store.request_facts("ta", start, end)
    assert [(r.request_id, r.asked) for r in requests] == [("r1", 3)]
    assert len(answers) == 1
    ratings = await store.rating_facts("ta", start, end)
    assert sorted(r.ratings["communication"] for r in ratings) == [3, 4, 5]
    stored = await store.ratings.find_one({"tenant": "ta"})
    assert stored is not None
    assert set(stored) == {"_id", "tenant", "subject_id", "ratings", "at"}  # no author


async def test_events_about_an_erased_person_are_dropped(people: People) -> None:
    store = store_of(people)
    router = reports_router(store)
    await store.people.insert_one(
        {"_id": "gone", "tenant": "ta", "deleted": True, "erased": True, "user_name_key": "x"}
    )
    late = {**GOAL, "owner_id": "gone", "tenant": "ta"}
    assert await router.dispatch(event(GoalCreated(**late), "ta", 0))
    assert await router.dispatch(event(GoalCheckedIn(**late, check_in_id="c9", by="gone"), "ta", 1))
    assert await store.goals.count_documents({"tenant": "ta"}) == 0
    assert await store.check_ins.count_documents({"tenant": "ta"}) == 0
    # and forget() removes what was there before the erasure
    assert await router.dispatch(event(GoalCreated(**GOAL, tenant="ta"), "ta", 0))
    assert await store.forget("ta", "p1") == 1
    assert await store.forget("ta", "p1") == 0


def progress(goal_id: str, owner: str, minutes: int, *, at_risk: bool = False) -> Envelope:
    moved = GoalProgressUpdated(
        **{**GOAL, "goal_id": goal_id, "owner_id": owner},
        tenant="ta",
        at_risk=at_risk,
        progress=minutes / 100,
        old_progress=0,
        new_progress=minutes / 100,
        last_activity_at=T0 + timedelta(minutes=minutes),
        cause=ProgressCause(kind="kpi", datapoint_id=f"dp-{goal_id}-{minutes}"),
    )
    return event(moved, "ta", minutes)


async def test_a_run_of_progress_events_lands_as_the_events_one_by_one_would(
    people: People,
) -> None:
    store = store_of(people)
    router = reports_router(store)
    await store.people.insert_one(
        {"_id": "gone", "tenant": "ta", "deleted": True, "erased": True, "user_name_key": "x"}
    )
    run = [
        progress("g1", "p1", 5),
        progress("g2", "p2", 6, at_risk=True),
        progress("g1", "p1", 9, at_risk=True),
        progress("g1", "p1", 7),  # a redelivery of an older one: the state of t+9 stays
        progress("g3", "gone", 8),  # an erased owner: dropped
        progress("g2", "p2", 4),  # older than g2's first in the run, so g2 was created then
    ]
    assert router.batches(GoalProgressUpdated.event_type)
    await router.dispatch_batch(run)
    batched = {doc["goal_id"]: doc async for doc in store.goals.find({"tenant": "ta"})}

    await store.goals.delete_many({"tenant": "ta"})
    for envelope in run:
        assert await router.dispatch(envelope)
    one_by_one = {doc["goal_id"]: doc async for doc in store.goals.find({"tenant": "ta"})}

    assert batched == one_by_one
    assert sorted(batched) == ["g1", "g2"]
    assert batched["g1"]["at_risk"] is True
    assert batched["g1"]["at"] == T0 + timedelta(minutes=9)
    assert batched["g2"]["created_at"] == T0 + timedelta(minutes=4)


async def test_a_run_over_stored_facts_lands_as_the_events_one_by_one_would(
    people: People,
) -> None:
    """Facts already stored (the usual case: a goal's creation came first), one of them newer
    than the run's event for it, another goal not stored yet."""
    store = store_of(people)
    router = reports_router(store)
    before = [progress("g1", "p1", 3), progress("g2", "p2", 20, at_risk=True)]
    run = [
        progress("g1", "p1", 9, at_risk=True),
        progress("g1", "p1", 1),  # earlier than g1's stored creation: it becomes g1's
        progress("g2", "p2", 12),  # older than g2's stored state, which stays
        progress("g4", "p4", 6),  # no fact yet
    ]
    results = []
    for batched in (True, False):
        await store.goals.delete_many({"tenant": "ta"})
        for envelope in before:
            assert await router.dispatch(envelope)
        if batched:
            await router.dispatch_batch(run)
        else:
            for envelope in run:
                assert await router.dispatch(envelope)
        results.append({doc["goal_id"]: doc async for doc in store.goals.find({"tenant": "ta"})})
    batched_facts, one_by_one = results
    assert batched_facts == one_by_one
    assert batched_facts["g1"]["at"] == T0 + timedelta(minutes=9)
    assert batched_facts["g1"]["at_risk"] is True
    assert batched_facts["g1"]["created_at"] == T0 + timedelta(minutes=1)
    assert batched_facts["g2"]["at"] == T0 + timedelta(minutes=20)
    assert batched_facts["g2"]["at_risk"] is True
    assert batched_facts["g2"]["created_at"] == T0 + timedelta(minutes=12)
    assert batched_facts["g4"]["created_at"] == T0 + timedelta(minutes=6)


async def test_a_run_of_progress_over_stored_older_facts_writes_once_a_goal(
    people: People,
) -> None:
    store = store_of(people)
    router = reports_router(store)
    await store.goals.delete_many({"tenant": "ta"})
    for envelope in [progress("g1", "p1", 3), progress("g2", "p2", 4)]:
        assert await router.dispatch(envelope)
    writes: list[int] = []
    bulk_write = store.goals.bulk_write

    async def counted(requests: Any, **kw: Any) -> Any:
        writes.append(len(requests))
        return await bulk_write(requests, **kw)

    store.goals.bulk_write = counted  # type: ignore[method-assign]
    try:
        await router.dispatch_batch([progress("g1", "p1", 8), progress("g2", "p2", 9)])
    finally:
        del store.goals.bulk_write
    assert writes == [2]  # one update a goal, no upsert before it
    facts = {doc["goal_id"]: doc["at"] async for doc in store.goals.find({"tenant": "ta"})}
    assert facts == {"g1": T0 + timedelta(minutes=8), "g2": T0 + timedelta(minutes=9)}
