"""The goals subscriptions on an in-memory broker with a fake repository (no servers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.goals.common import GoalStore
from services.goals.domain import Goal
from services.goals.handlers import build_router
from services.goals.progress import KeyResult, KpiBinding
from services.goals.reactions import GoalReactions
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
    """Stores goals as the real repository does (through the same document mapping)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.outbox: list[Envelope] = []
        self.conflicts_to_raise = 0

    def add(self, goal: Goal) -> None:
        self.docs[goal.id] = {"_id": goal.id, **goal_state(goal), "version": 1, "timeline": []}

    async def get(self, tenant: str, goal_id: str) -> Goal | None:
        doc = self.docs.get(goal_id)
        return goal_from_doc(doc) if doc and doc["tenant"] == tenant else None

    async def save(
        self, goal: Goal, events: Sequence[Envelope], *, guard_event_id: str | None = None
    ) -> None:
        doc = self.docs[goal.id]
        if self.conflicts_to_raise:
            self.conflicts_to_raise -= 1
            raise VersionConflict("lost a race")
        if doc["version"] != goal.version or guard_event_id in doc["applied_ids"]:
            raise VersionConflict("stale")
        doc.update(goal_state(goal))
        doc["version"] += 1
        doc["timeline"] += [{"kind": e.kind, **e.data} for e in goal.new_timeline]
        self.outbox += events
        goal.version += 1
        goal.events.clear()
        goal.new_timeline.clear()

    async def bound_goals(self, tenant: str, metric: str) -> list[Goal]:
        return [
            goal_from_doc(d)
            for d in self.docs.values()
            if d["tenant"] == tenant and d["status"] == "active" and metric in d["bound_metrics"]
        ]

    async def active_long_term_of(self, tenant: str, owner_id: str) -> list[str]:
        return [
            d["_id"]
            for d in self.docs.values()
            if (d["tenant"], d["owner_id"], d["status"], d["horizon"])
            == (tenant, owner_id, "active", "long_term")
        ]

    async def tenant_settings(self, tenant: str) -> None:
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
