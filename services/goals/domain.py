"""The goal aggregate: status, key results, progress and milestones (no I/O).

Every method that changes a goal records what happened: ``events`` (payloads of the goal
catalogue, each with an optional key that makes its id deterministic) and ``new_timeline``
entries. The service saves state, events and timeline in one document update. The at-risk
flag and the review rules are in ``services.goals.reviews``, a mixin of the aggregate.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from services.goals.nudges import UpdateReminders
from services.goals.progress import (
    Checkpoint,
    DataPoint,
    KeyResult,
    goal_progress,
    milestones_crossed,
)
from services.goals.records import (
    APPLIED_WINDOW,
    Applied,
    PendingEvent,
    TimelineEntry,
    applied_digest,
)
from services.goals.reviews import ReviewReason, ReviewRules
from shared.errors import Conflict, InvalidInput, NotFound, RuleNotMet
from shared.events.envelope import EventPayload
from shared.events.goals import (
    GoalAbandoned,
    GoalAchieved,
    GoalCheckedIn,
    GoalMilestoneReached,
    GoalProgressUpdated,
    GoalUpdated,
    ProgressCause,
)
from shared.time import utcnow

Horizon = Literal["short_term", "long_term"]
Category = Literal["skill", "career", "outcome"]
Status = Literal["draft", "active", "achieved", "abandoned"]
Visibility = Literal["private", "team", "company"]

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"active", "abandoned"}),
    "active": frozenset({"achieved", "abandoned"}),
    "achieved": frozenset(),
    "abandoned": frozenset(),
}
EDITABLE = frozenset(
    {
        "title",
        "description",
        "category",
        "skills",
        "parent_id",
        "due_date",
        "start_date",
        "visibility",
        "review_every_days",
        "feedback_reviewer_ids",
        "checkpoints",
    }
)


@dataclass
class Goal(ReviewRules, UpdateReminders):
    id: str
    tenant: str
    owner_id: str
    title: str
    horizon: Horizon
    category: Category = "skill"
    description: str = ""
    skills: list[str] = field(default_factory=list)
    parent_id: str | None = None
    start_date: date | None = None
    due_date: date | None = None
    visibility: Visibility = "team"
    review_every_days: int | None = None
    key_results: dict[str, KeyResult] = field(default_factory=dict)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    feedback_reviewer_ids: list[str] = field(default_factory=list)
    status: Status = "draft"
    progress: float = 0.0
    milestones_reached: list[str] = field(default_factory=list)
    at_risk: bool = False
    at_risk_count: int = 0
    # the day risk was last assessed: the scheduler re-assesses the goals not assessed today
    risk_checked_on: date | None = None
    next_review_on: date | None = None
    review_pending: ReviewReason | None = None
    review_due_on: date | None = None
    applied: list[Applied] = field(default_factory=list)
    # the update nudge (services.goals.nudges): last check-in, KPI movement or activation
    last_activity_at: datetime | None = None
    update_reminded_at: datetime | None = None
    update_check_at: datetime | None = None  # None: the scheduler looks at its next round
    template_id: str | None = None
    created_by: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    version: int = 0
    events: list[PendingEvent] = field(default_factory=list, repr=False)
    new_timeline: list[TimelineEntry] = field(default_factory=list, repr=False)
    # what the repository remembers of the stored document (the keys the goal is indexed
    # under, timeline entries not yet moved to their collection); opaque to the domain
    stored: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ facts

    @property
    def bound_metrics(self) -> list[str]:
        return sorted({kr.kpi.metric for kr in self.key_results.values() if kr.kpi})

    def facts(self) -> dict[str, Any]:
        """The GoalFacts every goal event carries."""
        return {
            "goal_id": self.id,
            "tenant": self.tenant,
            "owner_id": self.owner_id,
            "title": self.title,
            "horizon": self.horizon,
            "status": self.status,
            "progress": self.progress,
            "bound_metrics": self.bound_metrics,
            "feedback_reviewer_ids": list(self.feedback_reviewer_ids),
            "at_risk": self.at_risk,
            "last_activity_at": self.last_activity_at,
        }

    def validate(self) -> None:
        if not self.title.strip():
            raise InvalidInput("a goal needs a title")
        if self.start_date and self.due_date and self.due_date <= self.start_date:
            raise RuleNotMet("due_date must be after start_date")
        if self.review_every_days is not None and self.review_every_days < 1:
            raise InvalidInput("review_every_days must be at least 1")
        if self.parent_id == self.id:
            raise RuleNotMet("a goal cannot be its own parent")
        for kr in self.key_results.values():
            kr.validate()
        labels = [c.label for c in self.checkpoints]
        if len(set(labels)) != len(labels):
            raise InvalidInput("checkpoint labels must be unique")
        for c in self.checkpoints:
            if not 0 < c.progress <= 1:
                raise InvalidInput(f"checkpoint {c.label!r}: progress must be in (0, 1]")

    # ------------------------------------------------------------------ lifecycle

    def record(self, payload: EventPayload, *key: str) -> None:
        self.events.append(PendingEvent(payload, key or None))

    def change_status(self, target: Status, *, by: str, today: date, now: datetime) -> None:
        if target == self.status:
            return
        if target not in TRANSITIONS[self.status]:
            raise Conflict(f"a {self.status} goal cannot become {target}")
        old = self.status
        self.status = target
        self.updated_at = now
        self._timeline(now, "status", {"from": old, "to": target, "by": by})
        if target == "active":
            self.note_activity(now)
            self.update_check_at = None
            self.baseline()
            self.start_date = self.start_date or today
            if self.review_every_days:
                self.next_review_on = today + timedelta(days=self.review_every_days)
            self.record(GoalUpdated(**self.facts(), changed=["status"]))
        elif target == "achieved":
            self.record(GoalAchieved(**self.facts()), self.id, "achieved")
        else:
            self.review_pending = None
            self.record(GoalAbandoned(**self.facts()), self.id, "abandoned")

    def edit(self, changes: Mapping[str, Any], now: datetime) -> list[str]:
        """Apply the edited fields; returns the names that actually changed."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise InvalidInput(f"these fields cannot be edited: {', '.join(sorted(unknown))}")
        if self.status in ("achieved", "abandoned"):
            raise Conflict(f"a {self.status} goal cannot be edited")
        changed = [name for name, value in changes.items() if getattr(self, name) != value]
        for name in changed:
            setattr(self, name, changes[name])
        if "review_every_days" in changed and self.status == "active":
            base = self.start_date or now.date()
            self.next_review_on = (
                max(base, now.date()) + timedelta(days=self.review_every_days)
                if self.review_every_days
                else None
            )
        self.validate()
        if changed:
            self.updated_at = now
            self.record(GoalUpdated(**self.facts(), changed=sorted(changed)))
        return changed

    # ------------------------------------------------------------------ progress

    def baseline(self) -> None:
        """Progress from the key results as they stand; milestones already passed are the
        starting point (they do not fire)."""
        self.progress = goal_progress(self.key_results.values())
        for label, _ in milestones_crossed(
            self.progress, self.milestones_reached, checkpoints=self.checkpoints
        ):
            self.milestones_reached.append(label)

    def replace_key_results(
        self,
        key_results: Sequence[KeyResult],
        *,
        by: str,
        today: date,
        now: datetime,
        margin: float,
    ) -> None:
        """A new set of key results (ids kept keep their KPI state)."""
        if self.status in ("achieved", "abandoned"):
            raise Conflict(f"a {self.status} goal cannot be edited")
        self.key_results = {kr.id: kr for kr in key_results}
        self.validate()
        self.updated_at = now
        self.record(GoalUpdated(**self.facts(), changed=["key_results"]))
        self._recompute(ProgressCause(kind="key_results_changed", by=by), today, now, margin)

    def check_in(
        self,
        *,
        check_in_id: str,
        by: str,
        values: Mapping[str, float],
        confidence: float | None,
        note: str | None,
        activity: Mapping[str, Any] | None,
        today: date,
        now: datetime,
        margin: float,
    ) -> None:
        if self.status != "active":
            raise Conflict(f"check-ins need an active goal; this one is {self.status}")
        for kr_id, value in values.items():
            kr = self.key_results.get(kr_id)
            if kr is None:
                raise NotFound(f"the goal has no key result {kr_id}")
            if kr.kpi is not None:
                raise InvalidInput(f"key result {kr_id} is bound to a KPI; it moves by itself")
            kr.current = value
        self._timeline(
            now,
            "check_in",
            {
                "check_in_id": check_in_id,
                "by": by,
                "values": dict(values),
                "confidence": confidence,
                "note": note,
                "activity": dict(activity) if activity else None,
            },
            entry_id=check_in_id,
        )
        self.updated_at = now
        self.note_activity(now)
        self.record(
            GoalCheckedIn(
                **self.facts(), check_in_id=check_in_id, by=by, key_result_ids=sorted(values)
            ),
            self.id,
            "checked_in",
            check_in_id,
        )
        cause = ProgressCause(kind="check_in", by=by, check_in_id=check_in_id)
        self._recompute(cause, today, now, margin)

    def apply_datapoint(self, point: DataPoint, *, now: datetime, margin: float) -> bool:
        """Move every matching KPI-bound key result once; False when nothing changed.

        A draft moves too, so that it shows where its KPIs stand when it is activated (its
        milestones wait, and activation takes its progress as the baseline); a draft without
        a ``start_date`` has no period yet, so its ``sum`` key results count nothing.
        """
        if self.status in ("achieved", "abandoned") or self.has_applied(point.id):
            return False
        if not any(
            kr.kpi and kr.kpi.matches(point.metric, point.dimensions)
            for kr in self.key_results.values()
        ):
            return False
        self.remember(point.id, now)
        unstarted = self.status == "draft" and self.start_date is None
        period = (date.max if unstarted else self.start_date, self.due_date)
        moved = [kr.id for kr in self.key_results.values() if kr.apply(point, period)]
        if not moved:
            return True  # remembered (e.g. an older point under ``latest``), nothing moved
        self.updated_at = now
        self.note_activity(now)
        cause = ProgressCause(
            kind="kpi", datapoint_id=point.id, source_id=point.source_id, metric=point.metric
        )
        self._recompute(cause, now.date(), now, margin, key_result_id=moved[0], point=point)
        return True

    def _recompute(
        self,
        cause: ProgressCause,
        today: date,
        now: datetime,
        margin: float,
        *,
        key_result_id: str | None = None,
        point: DataPoint | None = None,
    ) -> None:
        old, new = self.progress, goal_progress(self.key_results.values())
        entry: dict[str, Any] = {
            "old_progress": old,
            "new_progress": new,
            "cause": cause.model_dump(exclude_none=True),
            "key_results": {k: kr.current for k, kr in self.key_results.items()},
        }
        if point is not None:
            entry["value"] = point.value
            entry["timestamp"] = point.timestamp.isoformat()
        self._timeline(now, "progress", entry)
        if new == old:
            return
        self.progress = new
        if self.status != "active":  # a draft's progress moves, its milestones wait
            self.record(
                GoalProgressUpdated(**self.facts(), old_progress=old, new_progress=new, cause=cause)
            )
            return
        self.record(
            GoalProgressUpdated(
                **self.facts(),
                old_progress=old,
                new_progress=new,
                cause=cause,
                key_result_id=key_result_id,
            )
        )
        for label, threshold in milestones_crossed(
            new, self.milestones_reached, checkpoints=self.checkpoints
        ):
            self.milestones_reached.append(label)
            self.record(
                GoalMilestoneReached(**self.facts(), milestone=label, threshold=threshold),
                self.id,
                "milestone",
                label,
            )
        if new >= 1.0 and self.status == "active":
            self.change_status("achieved", by=cause.by or "system", today=today, now=now)
        self.assess_risk(today, margin)

    # ------------------------------------------------------------------ feedback

    def feedback_submitted(self, *, event_id: str, data: dict[str, Any], now: datetime) -> bool:
        if self.has_applied(event_id):
            return False
        self.remember(event_id, now)
        self._timeline(now, "feedback", data, entry_id=event_id)
        return True

    # ------------------------------------------------------------------ idempotency guards

    def has_applied(self, event_id: str) -> bool:
        digest = applied_digest(event_id)
        return any(a.digest == digest for a in self.applied)

    def remember(self, event_id: str, now: datetime) -> None:
        """Keep the id among the last ``APPLIED_WINDOW`` applied (the oldest falls out)."""
        self.applied.append(Applied(applied_digest(event_id), now))
        del self.applied[:-APPLIED_WINDOW]

    def prune_applied(self, before: datetime) -> int:
        kept = [a for a in self.applied if a.at >= before]
        pruned = len(self.applied) - len(kept)
        self.applied = kept
        return pruned

    def _timeline(
        self, now: datetime, kind: Any, data: dict[str, Any], entry_id: str | None = None
    ) -> None:
        self.new_timeline.append(TimelineEntry(entry_id or uuid.uuid4().hex, now, kind, data))
