"""The reports' subscription: goal events (state, at-risk flag, last activity, check-ins) and
feedback events (requests, answers, declines, ratings). Each event overwrites the fact of its
object, so a redelivery changes nothing; events about an erased person are dropped."""

from __future__ import annotations

from datetime import datetime

from services.people.reports.repository import ReportStore
from shared.events.envelope import CATALOGUE, Envelope, MalformedEvent
from shared.events.feedback import (
    FeedbackDeclined,
    FeedbackReleased,
    FeedbackRequested,
    FeedbackSubmitted,
)
from shared.events.goals import GoalAchieved, GoalCheckedIn, GoalFacts, GoalProgressUpdated
from shared.messaging.consumer import Router
from shared.mongo import Document


def _same_tenant(event: Envelope, tenant: str) -> None:
    # a payload naming another tenant than its event is not trusted
    if tenant != event.tenant:
        raise MalformedEvent("the payload's tenant differs from its event's")


def state_of(goal: GoalFacts) -> Document:
    return {
        "owner_id": goal.owner_id,
        "status": goal.status,
        "at_risk": goal.at_risk,
        "progress": goal.progress,
        "last_activity_at": goal.last_activity_at,
    }


def reports_router(store: ReportStore) -> Router:
    router = Router()

    async def on_goal(event: Envelope, goal: GoalFacts) -> None:
        """The goal's latest state; a check-in is also a fact of its own."""
        _same_tenant(event, goal.tenant)
        if await store.is_erased(goal.tenant, goal.owner_id):
            return
        achieved = isinstance(goal, GoalAchieved)
        await store.put_goal(goal.tenant, goal.goal_id, state_of(goal), event.time, achieved)
        if isinstance(goal, GoalCheckedIn):
            await store.put_check_in(
                goal.tenant, goal.check_in_id, goal.owner_id, goal.goal_id, event.time
            )

    for payload_type in CATALOGUE.values():
        if issubclass(payload_type, GoalFacts):
            router.on(payload_type)(on_goal)

    @router.on_batch(GoalProgressUpdated)
    async def on_progress(run: list[tuple[Envelope, GoalProgressUpdated]]) -> None:
        """A run of progress events (one per KPI point a goal takes): ``on_goal`` for each,
        with one query for erased owners and one write round trip for the run; a goal met
        several times keeps its latest state and its earliest time."""
        for event, goal in run:
            _same_tenant(event, goal.tenant)
        by_tenant: dict[str, list[tuple[Envelope, GoalProgressUpdated]]] = {}
        for event, goal in run:
            by_tenant.setdefault(goal.tenant, []).append((event, goal))
        for tenant, events in by_tenant.items():
            erased = await store.erased_among(tenant, (goal.owner_id for _, goal in events))
            latest: dict[str, tuple[Document, datetime, datetime]] = {}
            for event, goal in events:
                if goal.owner_id in erased:
                    continue
                found = latest.get(goal.goal_id)
                first = event.time if found is None else min(found[2], event.time)
                if found is None or event.time >= found[1]:
                    latest[goal.goal_id] = (state_of(goal), event.time, first)
                else:
                    latest[goal.goal_id] = (found[0], found[1], first)
            await store.put_goals(
                tenant, [(goal_id, *fact) for goal_id, fact in sorted(latest.items())]
            )

    @router.on(FeedbackRequested)
    async def on_requested(event: Envelope, asked: FeedbackRequested) -> None:
        """One reviewer asked: counted once per event, without naming them."""
        _same_tenant(event, asked.tenant)
        if await store.is_erased(asked.tenant, asked.subject_id):
            return
        await store.put_request(
            asked.tenant, asked.request_id, asked.subject_id, event.id, event.time
        )

    @router.on(FeedbackSubmitted)
    async def on_submitted(event: Envelope, answer: FeedbackSubmitted) -> None:
        """An answer, and its ratings when they are readable (named, or released)."""
        _same_tenant(event, answer.tenant)
        if await store.is_erased(answer.tenant, answer.subject_id):
            return
        await store.put_answer(
            answer.tenant, event.id, answer.request_id, answer.subject_id, "answered", event.time
        )
        if answer.ratings:
            await store.put_ratings(
                answer.tenant, event.id, answer.subject_id, answer.ratings, event.time
            )

    @router.on(FeedbackDeclined)
    async def on_declined(event: Envelope, declined: FeedbackDeclined) -> None:
        _same_tenant(event, declined.tenant)
        if await store.is_erased(declined.tenant, declined.subject_id):
            return
        await store.put_answer(
            declined.tenant,
            event.id,
            declined.request_id,
            declined.subject_id,
            "declined",
            event.time,
        )

    @router.on(FeedbackReleased)
    async def on_released(event: Envelope, release: FeedbackReleased) -> None:
        """An anonymous request's ratings, unnamed, readable from its release."""
        _same_tenant(event, release.tenant)
        if await store.is_erased(release.tenant, release.subject_id):
            return
        for i, ratings in enumerate(release.ratings):
            if ratings:
                await store.put_ratings(
                    release.tenant, f"{event.id}/{i}", release.subject_id, ratings, event.time
                )

    return router
