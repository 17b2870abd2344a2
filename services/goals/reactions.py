"""Use cases driven by events and time: KPI data points, manager changes, feedback, reviews."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from opentelemetry.trace import SpanKind

from services.goals.common import GoalStore, envelopes
from services.goals.domain import Goal
from services.goals.progress import DataPoint
from shared.errors import VersionConflict
from shared.events.envelope import Envelope
from shared.events.feedback import FeedbackSubmitted
from shared.events.kpi import KpiDatapointRecorded
from shared.observability import get_logger
from shared.tracing import continued_span, current_traceparent

log = get_logger(__name__)

# a lost race on one goal is retried on that goal (reloaded) this many times before the
# whole record is handed back to the runner, which retries it (goals already moved are
# guarded by the point's id)
ATTEMPTS_PER_GOAL = 5
# goals one point (or run) moves at a time: their reads and writes overlap in the store
CONCURRENT_GOALS = 8
FINISHED = ("achieved", "abandoned")
# the span each point of a run is applied in, named as the consumer runner names one event's
POINT_SPAN = f"{KpiDatapointRecorded.event_type} process"


@dataclass(frozen=True)
class Looked:
    """What one of the scheduler's day-granular checks found to look at, and changed."""

    found: int
    changed: int


class GoalReactions:
    def __init__(self, store: GoalStore, *, retention_days: int = 14) -> None:
        self.store = store
        self.repo = store.repo
        self.retention = timedelta(days=retention_days)
        self._all_indexed = False

    async def apply_datapoint(self, tenant: str, point: DataPoint) -> int:
        """Move every bound key result of the tenant's draft and active goals the point matches.

        Only the goals indexed under a binding the point matches are read (``_id`` lookups;
        the cost does not grow with the tenant's other goals). Each goal remembers the point's
        id in the same versioned update, so a redelivery, a retry after a lost race, or the
        same goal reached through two of its key results never moves a goal twice. A run of
        one: its events continue the current trace.
        """
        return await self.apply_datapoints(tenant, [(point, current_traceparent())])

    async def apply_datapoints(
        self, tenant: str, points: Sequence[tuple[DataPoint, str | None]]
    ) -> int:
        """``apply_datapoint`` for a run of points in order (each with its traceparent).

        The same effect, with the reads done once for the run (bindings and goals by ``_id
        $in``) and one versioned save per goal the run moves, however many of its points
        it takes: a hot metric costs a write per goal per run instead of per point. Each
        event a point causes carries that point's trace.
        """
        found = await self.repo.goals_for_points(
            tenant, [(point.metric, dict(point.dimensions)) for point, _ in points]
        )
        plan: dict[str, list[tuple[DataPoint, str | None]]] = {}
        keys_of: dict[str, set[str]] = {}
        for (point, traceparent), by_key in zip(points, found, strict=True):
            for key, goal_ids in by_key.items():
                for goal_id in goal_ids:
                    run = plan.setdefault(goal_id, [])
                    if not run or run[-1][0] is not point:  # one goal, two of its keys
                        run.append((point, traceparent))
                    keys_of.setdefault(goal_id, set()).add(key)
        if not plan:
            return 0
        margin = await self.store.margin(tenant)
        loaded = await self.repo.get_many(tenant, sorted(plan), outbox=True)
        limit = asyncio.Semaphore(CONCURRENT_GOALS)
        held: list[Envelope] = []

        async def one(goal_id: str) -> bool:
            async with limit:
                events = await self._apply_run(
                    tenant,
                    goal_id,
                    sorted(keys_of[goal_id]),
                    plan[goal_id],
                    margin,
                    loaded.get(goal_id),
                )
                held.extend(events or ())
                return events is not None

        outcomes = await asyncio.gather(
            *(one(goal_id) for goal_id in sorted(plan)), return_exceptions=True
        )
        # what was saved goes out now, even when another goal of the run failed (the run is
        # then retried point by point, and those points are already applied)
        await self.store.publish_held(held)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return sum(1 for outcome in outcomes if outcome is True)

    async def _apply_run(
        self,
        tenant: str,
        goal_id: str,
        keys: list[str],
        run: list[tuple[DataPoint, str | None]],
        margin: float,
        goal: Goal | None,
    ) -> list[Envelope] | None:
        """Apply a run of points to one goal and save it once (reloaded after a lost race);
        the events saved held, to publish (None: the goal did not move)."""
        for attempt in range(ATTEMPTS_PER_GOAL):
            if attempt:  # spread the writers that lost the race, so they don't collide again
                await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
                goal = await self.repo.get(tenant, goal_id, outbox=True)
            if goal is None:
                return None  # bound, not inserted yet (or never: a crash in between); keep it
            if goal.status in FINISHED:
                # a stale binding (a crash between a save and its clean-up): a finished goal
                # never becomes active again, so dropping it cannot race with a re-binding
                await self.repo.unbind(tenant, goal_id, keys)
                return None
            moved = False
            built: list[Envelope] = []
            for point, traceparent in run:
                # the events a point causes are made under its trace (the goal's events are
                # turned into envelopes after each point, while its span is current)
                with continued_span(POINT_SPAN, traceparent, kind=SpanKind.CONSUMER):
                    if goal.apply_datapoint(point, now=self.store.clock(), margin=margin):
                        moved = True
                    built += envelopes(goal, self.store.clock())
                    goal.events.clear()
            if not moved:
                return None
            try:
                return await self.store.save_held(goal, built=built)
            except VersionConflict:
                continue  # another replica or partition changed it: reload and re-check
        raise VersionConflict(f"goal {goal_id} kept changing while data points were applied")

    async def manager_changed(
        self, *, event_id: str, tenant: str, person_id: str, new_manager_id: str | None
    ) -> int:
        """The person's active long-term goals become due for review."""
        now = self.store.clock()
        reopened = 0
        for goal_id in await self.repo.active_long_term_of(tenant, person_id):
            goal = await self.repo.get(tenant, goal_id)
            if goal is None or not goal.manager_changed(
                cause_id=event_id, new_manager_id=new_manager_id, today=now.date(), now=now
            ):
                continue
            await self.store.save(goal)
            reopened += 1
        return reopened

    async def feedback_submitted(self, event_id: str, payload: FeedbackSubmitted) -> bool:
        """A timeline entry on the goal the feedback was linked to."""
        if payload.goal_id is None:
            return False
        goal = await self.repo.get(payload.tenant, payload.goal_id)
        if goal is None or goal.owner_id != payload.subject_id:
            log.info("feedback names an unknown goal; ignored", goal_id=payload.goal_id)
            return False
        data = {
            "request_id": payload.request_id,
            "anonymous": payload.anonymous,
            "reviewer_id": None if payload.anonymous else payload.reviewer_id,
            "skills": list(payload.skills),
        }
        if not goal.feedback_submitted(event_id=event_id, data=data, now=self.store.clock()):
            return False
        await self.store.save(goal)
        return True

    # ------------------------------------------------------------------ scheduled work

    async def emit_due_reviews(self, today: date) -> Looked:
        emitted = 0
        due = await self.repo.reviews_due(today)
        for tenant, goal_id in due:
            goal = await self.repo.get(tenant, goal_id)
            if goal is None or not goal.cadence_review(today, self.store.clock()):
                continue
            try:
                await self.store.save(goal)
            except VersionConflict:
                continue  # changed meanwhile; the next tick looks again
            emitted += 1
        return Looked(len(due), emitted)

    async def emit_update_reminders(self, now: datetime) -> int:
        """The weekly "update your key results" nudge of every idle active goal that is due."""
        emitted = 0
        for tenant, goal_id in await self.repo.update_reminders_due(now):
            goal = await self.repo.get(tenant, goal_id)
            if goal is None:
                continue
            days = await self.store.update_reminder_days(tenant)
            if not goal.update_reminder(now, days):
                await self.repo.set_update_check(tenant, goal_id, goal.update_check_at)
                continue
            try:
                await self.store.save(goal)
            except VersionConflict:
                continue  # changed meanwhile (a check-in?): the next round looks again
            emitted += 1
        return emitted

    async def assess_risks(self, today: date) -> Looked:
        """Re-assess the active goals not assessed today; changed: how many are at risk."""
        flagged = 0
        margins: dict[str, float] = {}
        unchecked = await self.repo.risk_unchecked(today)
        for tenant, goal_id in unchecked:
            goal = await self.repo.get(tenant, goal_id)
            if goal is None:
                continue
            if tenant not in margins:
                margins[tenant] = await self.store.margin(tenant)
            was_at_risk = goal.at_risk
            if goal.assess_risk(today, margins[tenant]):
                flagged += 1
            if goal.at_risk != was_at_risk:
                try:
                    await self.store.save(goal)
                except VersionConflict:
                    continue
            await self.repo.mark_risk_checked(tenant, goal_id, today)
        return Looked(len(unchecked), flagged)

    async def index_unbound_goals(self) -> int:
        """Index the active goals stored before the KPI binding index (saving indexes them).

        Once a round finds none, this process stops looking: every goal stored since carries
        its binding keys.
        """
        if self._all_indexed:
            return 0
        unindexed = await self.repo.unindexed()
        self._all_indexed = not unindexed
        indexed = 0
        for tenant, goal_id in unindexed:
            goal = await self.repo.get(tenant, goal_id)
            if goal is None:
                continue
            try:
                await self.store.save(goal)
            except VersionConflict:
                continue  # saved meanwhile, which indexed it
            indexed += 1
        return indexed

    async def prune_guards(self) -> Looked:
        """Forget applied-event ids older than the retention (redeliveries come long before)."""
        cutoff = self.store.clock() - self.retention
        pruned = 0
        stale = await self.repo.with_stale_guards(cutoff)
        for tenant, goal_id in stale:
            goal = await self.repo.get(tenant, goal_id)
            if goal is None or not goal.prune_applied(cutoff):
                continue
            try:
                await self.store.save(goal)
            except VersionConflict:
                continue
            pruned += 1
        return Looked(len(stale), pruned)
