"""Events of the goals service on ``northstar.goals.v1`` (key = goal id)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from shared.events.envelope import EventPayload, event
from shared.events.topics import GOALS


class GoalFacts(EventPayload):
    """What every goal event says about its goal, so consumers need no lookup."""

    goal_id: str
    tenant: str
    owner_id: str
    title: str
    horizon: Literal["short_term", "long_term"]
    status: Literal["draft", "active", "achieved", "abandoned"]
    progress: float = 0.0
    # metrics of KPI-bound key results: kpi signals reach the people whose goals use them
    bound_metrics: list[str] = []
    # people the owner wants asked for feedback when a milestone lands or the goal is achieved
    feedback_reviewer_ids: list[str] = []
    # whether the goal is at risk (goal.at_risk sets it; a goal.updated with changed
    # ["at_risk"] tells that it is no longer), and its last check-in, KPI movement or activation
    at_risk: bool = False
    last_activity_at: datetime | None = None


@event("northstar.goal.created.v1", GOALS)
class GoalCreated(GoalFacts):
    category: Literal["skill", "career", "outcome"] = "skill"
    parent_id: str | None = None
    visibility: Literal["private", "team", "company"] = "team"
    skills: list[str] = []
    due_date: date | None = None


@event("northstar.goal.updated.v1", GOALS)
class GoalUpdated(GoalFacts):
    changed: list[str] = []


class ProgressCause(EventPayload):
    kind: Literal["check_in", "kpi", "key_results_changed"]
    by: str | None = None  # the person who checked in
    check_in_id: str | None = None
    datapoint_id: str | None = None
    source_id: str | None = None
    metric: str | None = None


@event("northstar.goal.progress_updated.v1", GOALS)
class GoalProgressUpdated(GoalFacts):
    old_progress: float
    new_progress: float
    cause: ProgressCause
    key_result_id: str | None = None


@event("northstar.goal.milestone_reached.v1", GOALS)
class GoalMilestoneReached(GoalFacts):
    milestone: str  # "0.25" ... "1.0", or a dated checkpoint's label
    threshold: float | None = None


@event("northstar.goal.achieved.v1", GOALS)
class GoalAchieved(GoalFacts):
    pass


@event("northstar.goal.at_risk.v1", GOALS)
class GoalAtRisk(GoalFacts):
    expected_progress: float


@event("northstar.goal.review_due.v1", GOALS)
class GoalReviewDue(GoalFacts):
    reason: Literal["cadence", "manager_changed"]
    due_on: date
    # set when reason is manager_changed: the owner's new manager (None when removed)
    new_manager_id: str | None = None


@event("northstar.goal.checked_in.v1", GOALS)
class GoalCheckedIn(GoalFacts):
    """Every check-in, whether or not it moved progress (a nudge it answers becomes moot)."""

    check_in_id: str
    by: str
    key_result_ids: list[str] = []


@event("northstar.goal.update_reminder_due.v1", GOALS)
class GoalUpdateReminderDue(GoalFacts):
    """Weekly nudge: an active goal had no check-in and no KPI movement for ``idle_days``."""

    idle_days: int
    stale_after_days: int  # the tenant's N
    last_activity_at: datetime | None = None  # the last check-in, KPI movement or activation
    week: str  # ISO year and week of the reminder, e.g. "2026-W49" (part of its event id)


@event("northstar.goal.abandoned.v1", GOALS)
class GoalAbandoned(GoalFacts):
    pass
