"""The goals subscriptions on an in-memory broker with a fake repository (no servers)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.goals.bindings import goal_bindings, keys_for_point, shapes_key
from services.goals.common import GoalStore
from services.goals.domain import Goal
from services.goals.handlers import build_router
from services.goals.progress import KeyResult, KpiBinding
from services.goals.reactions import GoalReactions
from services.goals.records import Applied, applied_digest
from services.goals.repository import goal_from_doc, goal_state
from shared.errors import VersionConflict
from shared.events import new_event
from shared.events.envelope import Envelope, EventPayload
from shared.events.feedback import FeedbackSubmitted
from shared.events.kpi import KpiDatapointRecorded
from shared.events.people import PersonManagerChanged
from shared.messaging import Router
from tests.doubles import InMemoryBroker

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


class FakeGoals:
    """Stores goals as the real repository does (through the same document mapping and the
    same binding keys), including its write order around a save: bind, save, unbind."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.outbox: list[Envelope] = []
        self.conflicts_to_raise = 0
        self.bindings: dict[str, set[str]] = {}  # binding key -> goal ids
        self.shapes: dict[str, set[str]] = {}  # shapes key -> shapes
        self.reads = 0
        self.saves = 0
        self.settings_reads = 0

    def add(self, goal: Goal) -> None:
        self._bind(goal.id, goal_bindings(goal))
        self.docs[goal.id] = {"_id": goal.id, **goal_state(goal), "version": 1, "timeline": []}
        goal.version = 1

    def _bind(self, goal_id: str, keys: dict[str, tuple[str, str]]) -> None:
        for key, (metric, shape) in keys.items():
            tenant = json.loads(key)[0]
            self.shapes.setdefault(shapes_key(tenant, metric), set()).add(shape)
            self.bindings.setdefault(key, set()).add(goal_id)

    async def get(self, tenant: str, goal_id: str, *, outbox: bool = False) -> Goal | None:
        self.reads += 1
        doc = self.docs.get(goal_id)
        return goal_from_doc(doc) if doc and doc["tenant"] == tenant else None

    async def save(self, goal: Goal, events: Sequence[Envelope]) -> None:
        doc = self.docs[goal.id]
        wanted = goal_bindings(goal)
        self._bind(goal.id, wanted)
        if self.conflicts_to_raise:
            self.conflicts_to_raise -= 1
            raise VersionConflict("lost a race")
        if doc["version"] != goal.version:
            raise VersionConflict("stale")
        had = set(doc["binding_keys"])
        doc.update(goal_state(goal))
        for key in had - set(wanted):
            self.bindings[key].discard(goal.id)
        self.saves += 1
        doc["version"] += 1
        doc["timeline"] += [{"kind": e.kind, **e.data} for e in goal.new_timeline]
        self.outbox += events
        goal.version += 1
        goal.events.clear()
        goal.new_timeline.clear()

    async def goals_for_point(
        self, tenant: str, metric: str, dimensions: dict[str, str]
    ) -> dict[str, list[str]]:
        shapes = self.shapes.get(shapes_key(tenant, metric), set())
        keys = keys_for_point(tenant, metric, dimensions, shapes)
        return {k: sorted(self.bindings[k]) for k in keys if k in self.bindings}

    async def get_many(
        self, tenant: str, goal_ids: Sequence[str], *, outbox: bool = False
    ) -> dict[str, Goal]:
        self.reads += 1
        found = {i: goal_from_doc(self.docs[i]) for i in goal_ids if i in self.docs}
        return {i: g for i, g in found.items() if g.tenant == tenant}

    async def goals_for_points(
        self, tenant: str, points: Sequence[tuple[str, dict[str, str]]]
    ) -> list[dict[str, list[str]]]:
        return [await self.goals_for_point(tenant, m, d) for m, d in points]

    async def unbind(self, tenant: str, goal_id: str, keys: Sequence[str]) -> None:
        for key in keys:
            self.bindings.get(key, set()).discard(goal_id)

    async def active_long_term_of(self, tenant: str, owner_id: str) -> list[str]:
        return [
            d["_id"]
            for d in self.docs.values()
            if (d["tenant"], d["owner_id"], d["status"], d["horizon"])
            == (tenant, owner_id, "active", "long_term")
        ]

    async def tenant_settings(self, tenant: str) -> None:
        self.settings_reads += 1
        return None


class NoDirectory:
    def register(self, router: Router) -> None:
        return None


def setup() -> tuple[FakeGoals, Router, InMemoryBroker]:
    goals = FakeGoals()
    store = GoalStore(goals, default_margin=0.15, clock=lambda: NOW)  # type: ignore[arg-type]
    router = build_router(NoDirectory(), GoalReactions(store))  # type: ignore[arg-type]
    return goals, router, InMemoryBroker()


def bound_goal(goal_id: str = "g1", horizon: str = "short_term", tenant: str = "acme") -> Goal:
    goal = Goal(
        id=goal_id,
        tenant=tenant,
        owner_id="pm",
        title="Adoption",
        horizon=horizon,  # type: ignore[arg-type]
        key_results={
            "k": KeyResult("k", "Adoption", 0, 10, 0, kpi=KpiBinding("adoption", {}, "sum"))
        },
    )
    goal.change_status("active", by="pm", today=NOW.date(), now=NOW)
    goal.events.clear()
    return goal


def envelope(payload: EventPayload, subject: str) -> Envelope:
    return new_event(payload, tenant=payload.tenant, subject=subject, source="test")  # type: ignore[attr-defined]


def datapoint(dp_id: str, value: float, tenant: str = "acme") -> Envelope:
    return envelope(
        KpiDatapointRecorded(
            id=dp_id,
            tenant=tenant,
            metric="adoption",
            value=value,
            timestamp=NOW + timedelta(minutes=1),
            source_id="s",
            source_event_id=dp_id,
        ),
        "adoption",
    )


def types(goals: FakeGoals) -> list[str]:
    return [e.type.split(".")[2] for e in goals.outbox]


async def test_a_redelivered_datapoint_moves_progress_once() -> None:
    goals, router, broker = setup()
    goals.add(bound_goal())
    point = datapoint("dp1", 5)
    for _ in range(3):
        await broker.publish(point)
    await broker.deliver(router)
    assert goals.docs["g1"]["key_results"]["k"]["current"] == 5
    assert types(goals) == ["progress_updated", "milestone_reached", "milestone_reached"]


async def test_a_retry_after_a_lost_race_applies_the_point_once() -> None:
    goals, router, broker = setup()
    goals.add(bound_goal())
    goals.conflicts_to_raise = 1
    await broker.publish(datapoint("dp1", 3))
    try:
        await broker.deliver(router)
    except VersionConflict:
        broker.published.append(broker.published[-1])  # the runner retries the same record
        await broker.deliver(router)
    assert goals.docs["g1"]["key_results"]["k"]["current"] == 3


async def test_another_tenants_datapoint_touches_nothing() -> None:
    goals, router, broker = setup()
    goals.add(bound_goal())
    await broker.publish(datapoint("dp1", 5, tenant="globex"))
    await broker.deliver(router)
    assert goals.docs["g1"]["progress"] == 0.0


async def test_manager_change_reopens_long_term_goals_once() -> None:
    goals, router, broker = setup()
    goals.add(bound_goal("long", horizon="long_term"))
    goals.add(bound_goal("short"))
    change = envelope(PersonManagerChanged(id="pm", tenant="acme", new_manager_id="m2"), "pm")
    await broker.publish(change)
    await broker.publish(change)
    await broker.deliver(router)
    assert types(goals) == ["review_due"]
    assert goals.docs["long"]["review_pending"] == "manager_changed"
    assert goals.docs["short"]["review_pending"] is None


async def test_feedback_on_a_goal_adds_one_timeline_entry_without_naming_anonymous_reviewers() -> (
    None
):
    goals, router, broker = setup()
    goals.add(bound_goal())
    submitted = envelope(
        FeedbackSubmitted(
            request_id="r1",
            tenant="acme",
            subject_id="pm",
            requester_id="pm",
            anonymous=True,
            reviewer_id="leaked",
            goal_id="g1",
        ),
        "r1",
    )
    await broker.publish(submitted)
    await broker.publish(submitted)
    await broker.deliver(router)
    [entry] = [e for e in goals.docs["g1"]["timeline"] if e["kind"] == "feedback"]
    assert entry["reviewer_id"] is None


def team_goal(goal_id: str, team: str, status: str = "active") -> Goal:
    goal = Goal(
        id=goal_id,
        tenant="acme",
        owner_id="pm",
        title="Adoption",
        horizon="short_term",
        key_results={
            "k": KeyResult(
                "k", "Adoption", 0, 10, 0, kpi=KpiBinding("adoption", {"team": team}, "latest")
            )
        },
    )
    if status != "draft":
        goal.change_status("active", by="pm", today=NOW.date(), now=NOW)
    goal.events.clear()
    return goal


def team_point(dp_id: str, team: str, value: float = 5, minutes: int = 1) -> Envelope:
    return envelope(
        KpiDatapointRecorded(
            id=dp_id,
            tenant="acme",
            metric="adoption",
            value=value,
            timestamp=NOW + timedelta(minutes=minutes),
            source_id="s",
            source_event_id=dp_id,
            dimensions={"team": team, "region": "eu"},
        ),
        "adoption",
    )


async def test_a_point_reads_only_the_goals_whose_filter_it_matches() -> None:
    goals, router, broker = setup()
    for i in range(50):
        goals.add(team_goal(f"g{i}", f"t{i}"))
    await broker.publish(team_point("dp1", "t7"))
    await broker.deliver(router)
    assert goals.reads == 1
    moved = [d["_id"] for d in goals.docs.values() if d["key_results"]["k"]["current"] != 0]
    assert moved == ["g7"]


async def test_a_drafts_kpi_key_result_moves_and_its_milestones_wait_for_activation() -> None:
    goals, router, broker = setup()
    draft = team_goal("g1", "t1", status="draft")
    goals.add(draft)
    await broker.publish(team_point("dp1", "t1", value=6))
    await broker.deliver(router)
    assert goals.docs["g1"]["key_results"]["k"]["current"] == 6
    assert goals.docs["g1"]["progress"] == 0.6
    assert goals.docs["g1"]["milestones_reached"] == []
    store = GoalStore(goals, default_margin=0.15, clock=lambda: NOW)  # type: ignore[arg-type]
    activated = await goals.get("acme", "g1")
    assert activated is not None
    activated.change_status("active", by="pm", today=NOW.date(), now=NOW)
    # what was passed while drafting is the starting point: recorded, not celebrated
    assert activated.milestones_reached == ["0.25", "0.5"]
    assert not [e for e in activated.events if "milestone" in e.payload.event_type]
    await store.save(activated)
    await broker.publish(team_point("dp2", "t1", value=8, minutes=2))
    await broker.deliver(router)
    assert goals.docs["g1"]["milestones_reached"] == ["0.25", "0.5", "0.75"]


async def test_editing_a_filter_moves_the_goal_to_its_new_binding() -> None:
    goals, router, broker = setup()
    goal = team_goal("g1", "t1")
    goals.add(goal)
    store = GoalStore(goals, default_margin=0.15, clock=lambda: NOW)  # type: ignore[arg-type]
    goal.replace_key_results(
        [KeyResult("k", "Adoption", 0, 10, 0, kpi=KpiBinding("adoption", {"team": "t2"}))],
        by="pm",
        today=NOW.date(),
        now=NOW,
        margin=0.15,
    )
    await store.save(goal)
    await broker.publish(team_point("dp1", "t1", value=3))
    await broker.publish(team_point("dp2", "t2", value=4))
    await broker.deliver(router)
    assert goals.docs["g1"]["key_results"]["k"]["current"] == 4
    assert goals.reads == 1  # the old binding is gone: the t1 point read nothing


async def test_a_binding_left_behind_by_a_crash_is_harmless_and_dropped_once_finished() -> None:
    goals, router, broker = setup()
    goals.add(team_goal("g1", "t1"))
    # the goal was abandoned and the process died before it removed its binding
    goals.docs["g1"].update(status="abandoned", binding_keys=[])
    await broker.publish(team_point("dp1", "t1"))
    await broker.publish(team_point("dp2", "t1"))
    await broker.deliver(router)
    assert goals.docs["g1"]["key_results"]["k"]["current"] == 0
    assert goals.reads == 1  # the first point dropped the stale binding


async def test_a_lost_race_on_a_goal_is_retried_on_that_goal_within_the_record() -> None:
    goals, router, broker = setup()
    goals.add(bound_goal())
    goals.conflicts_to_raise = 2
    await broker.publish(datapoint("dp1", 3))
    await broker.deliver(router)
    assert goals.docs["g1"]["key_results"]["k"]["current"] == 3
    assert goal_from_doc(goals.docs["g1"]).applied == [Applied(applied_digest("dp1"), NOW)]


async def test_a_goal_that_keeps_changing_hands_the_record_back_to_the_runner() -> None:
    goals, router, broker = setup()
    goals.add(bound_goal())
    goals.conflicts_to_raise = 50
    await broker.publish(datapoint("dp1", 3))
    with pytest.raises(VersionConflict):
        await broker.deliver(router)
    assert goals.docs["g1"]["key_results"]["k"]["current"] == 0


async def test_the_tenant_margin_is_read_once_per_cache_period_not_per_point() -> None:
    goals, router, broker = setup()
    goals.add(bound_goal())
    for i in range(5):
        await broker.publish(datapoint(f"dp{i}", 1))
    await broker.deliver(router)
    assert goals.docs["g1"]["key_results"]["k"]["current"] == 5
    assert goals.settings_reads == 1


async def test_a_binding_written_before_its_goal_is_inserted_is_kept() -> None:
    goals, router, broker = setup()
    early = team_goal("g1", "t1")
    goals._bind(early.id, goal_bindings(early))  # the insert binds first, then stores the goal
    await broker.publish(team_point("dp1", "t1"))
    await broker.deliver(router)
    goals.add(early)
    await broker.publish(team_point("dp2", "t1", value=6))
    await broker.deliver(router)
    assert goals.docs["g1"]["key_results"]["k"]["current"] == 6


def traced(point: Envelope, trace: int) -> Envelope:
    """The point as a sender's trace ``trace`` brought it (W3C traceparent)."""
    return dataclasses.replace(point, traceparent=f"00-{trace:032x}-{trace:016x}-01")


def run_of_points() -> list[Envelope]:
    return [
        traced(team_point("dp1", "t1", value=3, minutes=1), 1),
        traced(team_point("dp2", "t2", value=9, minutes=1), 2),
        traced(team_point("dp1", "t1", value=3, minutes=1), 1),  # a redelivery inside the run
        traced(team_point("dp3", "t1", value=6, minutes=2), 3),
        traced(team_point("dp4", "t9", value=1, minutes=2), 4),  # no goal binds t9
        traced(team_point("dp5", "t2", value=2, minutes=0), 5),  # older than dp2: kept out
    ]


def team_goals() -> FakeGoals:
    goals = FakeGoals()
    for goal_id, team in (("g1", "t1"), ("g2", "t2"), ("g3", "t3")):
        goals.add(team_goal(goal_id, team))
    return goals


def state(goals: FakeGoals) -> dict[str, Any]:
    return {
        goal_id: (doc["key_results"], doc["progress"], doc["milestones_reached"], doc["timeline"])
        for goal_id, doc in goals.docs.items()
    }


async def test_a_run_of_points_has_the_effect_of_each_point_in_turn_with_one_save_per_goal() -> (
    None
):
    one_by_one = team_goals()
    store = GoalStore(one_by_one, default_margin=0.15, clock=lambda: NOW)  # type: ignore[arg-type]
    router = build_router(NoDirectory(), GoalReactions(store))  # type: ignore[arg-type]
    for point in run_of_points():
        await router.dispatch(point)

    batched = team_goals()
    store = GoalStore(batched, default_margin=0.15, clock=lambda: NOW)  # type: ignore[arg-type]
    router = build_router(NoDirectory(), GoalReactions(store))  # type: ignore[arg-type]
    assert router.batches(KpiDatapointRecorded.event_type)
    await router.dispatch_batch(run_of_points())

    assert state(batched) == state(one_by_one)
    assert batched.docs["g1"]["key_results"]["k"]["current"] == 6
    assert batched.docs["g2"]["key_results"]["k"]["current"] == 9
    # the same events of each goal in the same order (a run saves goal after goal)
    for goal_id in ("g1", "g2", "g3"):
        assert [e.type for e in batched.outbox if e.subject == goal_id] == [
            e.type for e in one_by_one.outbox if e.subject == goal_id
        ]
    assert len(batched.outbox) == len(one_by_one.outbox) > 0
    assert (one_by_one.saves, batched.saves) == (4, 2)  # g1 twice, g2 twice (dp5 remembered)
    assert batched.reads == 1  # both goals in one read


async def test_each_event_of_a_run_carries_the_trace_of_the_point_that_caused_it() -> None:
    goals = team_goals()
    store = GoalStore(goals, default_margin=0.15, clock=lambda: NOW)  # type: ignore[arg-type]
    router = build_router(NoDirectory(), GoalReactions(store))  # type: ignore[arg-type]
    await router.dispatch_batch(run_of_points())
    traces = [
        (e.subject, e.data["cause"].get("datapoint_id"), (e.traceparent or "").split("-")[1])
        for e in goals.outbox
        if "progress_updated" in e.type
    ]
    assert traces == [
        ("g1", "dp1", f"{1:032x}"),
        ("g1", "dp3", f"{3:032x}"),
        ("g2", "dp2", f"{2:032x}"),
    ]
