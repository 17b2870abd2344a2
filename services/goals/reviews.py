"""When a goal calls for attention: the at-risk flag and its reviews (no I/O).

``ReviewRules`` is a mixin of the ``Goal`` aggregate: its methods read and change the goal's
state and record events and timeline entries through the goal, exactly as the aggregate's own
methods do. They live here so the aggregate's module stays about status, key results and
progress.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from services.goals.progress import Checkpoint, expected_progress, is_at_risk
from shared.errors import Conflict
from shared.events.goals import GoalAtRisk, GoalReviewDue, GoalUpdated

if TYPE_CHECKING:
    from services.goals.domain import Horizon, Status
    from shared.events.envelope import EventPayload

ReviewReason = Literal["cadence", "manager_changed"]


class ReviewRules:
    if TYPE_CHECKING:
        # what these rules read and change, all provided by ``Goal``: its fields, facts, event
        # record, timeline and window of applied event ids (declared for the type checker only,
        # so the dataclass's own fields and annotations stay exactly the aggregate's)
        id: str
        horizon: Horizon
        status: Status
        progress: float
        start_date: date | None
        due_date: date | None
        checkpoints: list[Checkpoint]
        at_risk: bool
        at_risk_count: int
        risk_checked_on: date | None
        review_every_days: int | None
        next_review_on: date | None
        review_pending: ReviewReason | None
        review_due_on: date | None
        updated_at: datetime

        def facts(self) -> dict[str, Any]: ...

        def record(self, payload: EventPayload, *key: str) -> None: ...

        def has_applied(self, event_id: str) -> bool: ...

        def remember(self, event_id: str, now: datetime) -> None: ...

        def _timeline(
            self, now: datetime, kind: Any, data: dict[str, Any], entry_id: str | None = None
        ) -> None: ...

    # ------------------------------------------------------------------ risk

    def assess_risk(self, today: date, margin: float) -> bool:
        """Flag the goal at risk when progress trails the elapsed period; True on a new flag."""
        self.risk_checked_on = today
        expected = expected_progress(today, self.start_date, self.due_date, self.checkpoints)
        risky = self.status == "active" and is_at_risk(self.progress, expected, margin)
        if risky == self.at_risk:
            return False
        self.at_risk = risky
        if not risky:
            # no longer at risk: said, so that a read model of the flag follows it
            self.record(
                GoalUpdated(**self.facts(), changed=["at_risk"]),
                self.id,
                "risk_cleared",
                str(self.at_risk_count),
            )
            return False
        self.at_risk_count += 1
        self.record(
            GoalAtRisk(**self.facts(), expected_progress=expected or 0.0),
            self.id,
            "at_risk",
            str(self.at_risk_count),
        )
        return True

    # ------------------------------------------------------------------ reviews

    def cadence_review(self, today: date, now: datetime) -> bool:
        """Emit review_due when the cadence date has come; the next one moves forward."""
        if self.status != "active" or self.next_review_on is None or not self.review_every_days:
            return False
        if self.next_review_on > today:
            return False
        due_on = self.next_review_on
        while self.next_review_on <= today:
            self.next_review_on += timedelta(days=self.review_every_days)
        self._review_due("cadence", due_on, now, self.id, "review", "cadence", due_on.isoformat())
        return True

    def manager_changed(
        self, *, cause_id: str, new_manager_id: str | None, today: date, now: datetime
    ) -> bool:
        """An active long-term goal of someone whose manager changed is due for review."""
        if self.status != "active" or self.horizon != "long_term" or self.has_applied(cause_id):
            return False
        self.remember(cause_id, now)
        self._review_due(
            "manager_changed",
            today,
            now,
            self.id,
            "review",
            cause_id,
            new_manager_id=new_manager_id,
        )
        return True

    def _review_due(
        self,
        reason: ReviewReason,
        due_on: date,
        now: datetime,
        *key: str,
        new_manager_id: str | None = None,
    ) -> None:
        self.review_pending = reason
        self.review_due_on = due_on
        self._timeline(now, "review", {"state": "due", "reason": reason, "due_on": str(due_on)})
        self.record(
            GoalReviewDue(
                **self.facts(), reason=reason, due_on=due_on, new_manager_id=new_manager_id
            ),
            *key,
        )

    def mark_reviewed(self, *, by: str, note: str | None, today: date, now: datetime) -> None:
        if self.status != "active":
            raise Conflict(f"only an active goal is reviewed; this one is {self.status}")
        self.review_pending = None
        self.review_due_on = None
        if self.review_every_days:
            self.next_review_on = today + timedelta(days=self.review_every_days)
        self.updated_at = now
        self._timeline(now, "review", {"state": "done", "by": by, "note": note})
