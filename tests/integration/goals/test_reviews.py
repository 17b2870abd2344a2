"""Reassessment: the cadence scheduler under several replicas, and manager changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.goals.common import GoalStore
from services.goals.progress import DataPoint
from services.goals.reactions import GoalReactions
from services.goals.repository import GoalRepository, goal_from_doc
from services.goals.scheduler import ReviewScheduler
from shared.events.people import PersonManagerChanged, PersonUpserted
from tests.integration.goals.helpers import Running, goal_events, goals_service, of_type
from tests.support import after_sentinel, eventually

pytestmark = pytest.mark.integration


def replica(svc: Running, days_ahead: int) -> ReviewScheduler:
    """Another scheduler instance on the same database, with its clock moved forward."""
    runtime = svc.app.state.runtime
    real = svc.app.state.goals.store
    store = GoalStore(
        GoalRepository(runtime.db),
        default_margin=0.15,
        notify=real.notify,
        clock=lambda: real.clock() + timedelta(days=days_ahead),
    )
    return ReviewScheduler(GoalReactions(store), interval_s=3600, lease_ttl_s=60)


async def create(svc: Running, owner: str, **body: object) -> str:
    response = await svc.client.post(
        "/v1/goals",
        headers=svc.auth(owner),
        json={"title": "Goal", "horizon": "long_term", "status": "active", **body},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_two_scheduler_instances_emit_one_review_due() -> None:
    async with goals_service() as svc:
        goal_id = await create(svc, "pm", review_every_days=7)
        first, second = replica(svc, 8), replica(svc, 8)

        ran = await asyncio.gather(first.tick(), second.tick(), first.tick(), second.tick())

        assert sorted(ran) == [False, False, True, True]  # one replica holds the lease
        events = await goal_events(svc, lambda es: bool(of_type(es, "review_due")))
        [due] = of_type(events, "review_due", goal_id)
        assert due.data["reason"] == "cadence"
        goal = (await svc.client.get(f"/v1/goals/{goal_id}", headers=svc.auth("pm"))).json()
        assert goal["review_pending"] == "cadence"
        assert goal["review_due_on"] == due.data["due_on"]

        # a review done restarts the cadence; nothing is due any more
        reviewed = await svc.client.post(
            f"/v1/goals/{goal_id}/reviews", headers=svc.auth("pm"), json={"note": "on track"}
        )
        assert reviewed.status_code == 200
        assert reviewed.json()["review_pending"] is None


async def test_an_expired_lease_passes_to_another_replica() -> None:
    async with goals_service() as svc:
        first, second = replica(svc, 0), replica(svc, 0)
        first.lease_ttl_s = 1.0  # longer than a round takes on a busy machine
        assert await first.tick()
        assert not await second.tick()
        await eventually(second.tick, timeout=10)  # once the first replica's lease expired
        assert not await first.tick()


async def test_a_manager_change_reopens_the_owners_active_long_term_goals() -> None:
    async with goals_service() as svc:
        await svc.person("boss")
        await svc.person("new-boss")
        await svc.person("pm", manager="boss")
        await svc.projected("acme", "pm", manager="boss")
        long_term = await create(svc, "pm")
        short_term = await create(svc, "pm", horizon="short_term")
        draft = await create(svc, "pm", status="draft")

        change = PersonManagerChanged(
            id="pm", tenant="acme", old_manager_id="boss", new_manager_id="new-boss"
        )
        envelope = await svc.publish(change, "pm")
        await svc.producer.publish(envelope)  # delivered twice

        await svc.projected("acme", "pm", manager="new-boss")

        async def reopened() -> object:
            goal = (await svc.client.get(f"/v1/goals/{long_term}", headers=svc.auth("pm"))).json()
            return goal["review_pending"] == "manager_changed"

        await eventually(reopened, timeout=30)

        # the duplicate is consumed before a sentinel on its key: pm's title changes
        async def sentinel() -> None:
            snapshot = PersonUpserted(
                id="pm", tenant="acme", user_name="pm", manager_id="new-boss", title="Sentinel"
            )
            await svc.publish(snapshot, "pm")

        async def sentinel_applied() -> bool:
            person = await svc.app.state.goals.directory.get("acme", "pm")
            return person is not None and person.title == "Sentinel"

        await after_sentinel(sentinel, sentinel_applied)
        events = await goal_events(svc, lambda es: bool(of_type(es, "review_due")))
        [due] = of_type(events, "review_due")
        assert due.subject == long_term
        assert due.data["reason"] == "manager_changed"
        assert due.data["new_manager_id"] == "new-boss"
        assert not of_type(events, "review_due", short_term)
        assert not of_type(events, "review_due", draft)
        # the new manager now sees the owner's goals, and can mark the review done
        reviewed = await svc.client.post(
            f"/v1/goals/{long_term}/reviews", headers=svc.auth("new-boss"), json={}
        )
        assert reviewed.status_code == 200
        assert reviewed.json()["review_pending"] is None


async def create_summing(svc: Running) -> str:
    """A goal of pm's whose key result sums the ``adoption`` KPI's points."""
    return await create(
        svc,
        "pm",
        key_results=[
            {
                "title": "Adoption",
                "target": 10,
                "source": {"kpi": {"metric": "adoption", "aggregation": "sum"}},
            }
        ],
    )


async def store_guards_as_two_lists(goals: Any, goal_id: str, ids: list[str], at: datetime) -> None:
    """The goal's guards as goals kept them before they were packed: an id list, a time list."""
    await goals.update_one(
        {"_id": goal_id},
        {
            "$set": {"applied_ids": ids, "applied_times": [at] * len(ids)},
            "$unset": {"applied": "", "applied_since": ""},
        },
    )


async def test_the_scheduler_prunes_old_applied_datapoint_guards() -> None:
    async with goals_service() as svc:
        goal_id = await create_summing(svc)
        point = DataPoint("dp-1", "adoption", 2, datetime.now(UTC), "src")
        assert await svc.app.state.reactions.apply_datapoint("acme", point) == 1
        assert await svc.app.state.reactions.apply_datapoint("acme", point) == 0
        raw = svc.app.state.runtime.db["goals"]
        stored = goal_from_doc(await raw.find_one({"_id": goal_id}))
        assert len(stored.applied) == 1
        assert stored.has_applied("dp-1")

        assert await replica(svc, 20).tick()

        assert goal_from_doc(await raw.find_one({"_id": goal_id})).applied == []
        goal = (await svc.client.get(f"/v1/goals/{goal_id}", headers=svc.auth("pm"))).json()
        assert goal["key_results"][0]["current"] == 2


async def test_guards_kept_as_two_lists_still_guard_and_are_packed_by_the_next_save() -> None:
    async with goals_service() as svc:
        goal_id = await create_summing(svc)
        raw = svc.app.state.runtime.db["goals"]
        now = datetime.now(UTC)
        await store_guards_as_two_lists(raw, goal_id, ["dp-old"], now)
        reactions = svc.app.state.reactions
        assert (
            await reactions.apply_datapoint("acme", DataPoint("dp-old", "adoption", 5, now, "s"))
            == 0
        )
        assert (
            await reactions.apply_datapoint("acme", DataPoint("dp-new", "adoption", 2, now, "s"))
            == 1
        )
        doc = await raw.find_one({"_id": goal_id})
        assert "applied_ids" not in doc
        assert "applied_times" not in doc
        assert isinstance(doc["applied"], bytes)
        assert len(doc["applied"]) == 2 * 12
        stored = goal_from_doc(doc)
        assert stored.has_applied("dp-old")
        assert stored.has_applied("dp-new")
        answer = (await svc.client.get(f"/v1/goals/{goal_id}", headers=svc.auth("pm"))).json()
        assert answer["key_results"][0]["current"] == 2  # dp-old refused, dp-new counted

        # one left unsaved as two lists is still found by the scheduler's prune
        await store_guards_as_two_lists(raw, goal_id, ["dp-old"], now)
        assert await replica(svc, 20).tick()
        doc = await raw.find_one({"_id": goal_id})
        assert "applied_ids" not in doc
        assert goal_from_doc(doc).applied == []
