"""The weekly "update your key results" nudge of a goal left idle (no I/O).

``UpdateReminders`` is a mixin of the ``Goal`` aggregate, like ``ReviewRules``. A goal is idle
when it had no check-in, no KPI movement (a data point that moved a key result) and no
activation for the tenant's N days; an idle active goal is reminded at most once a week, and
activity starts the count again. ``update_check_at`` is when the scheduler next needs to look at
the goal, so a round reads only the goals that may be due.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.events.goals import GoalUpdateReminderDue

if TYPE_CHECKING:
    from services.goals.domain import Status
    from shared.events.envelope import EventPayload

REMIND_EVERY = timedelta(days=7)
# "look at it at the next round": what an active goal that was never looked at is stored with
LOOK_NOW = datetime(1970, 1, 1, tzinfo=UTC)


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


class UpdateReminders:
    if TYPE_CHECKING:
        # provided by ``Goal`` (declared for the type checker only)
        id: str
        status: Status
        updated_at: datetime
        last_activity_at: datetime | None
        update_reminded_at: datetime | None
        update_check_at: datetime | None

        def facts(self) -> dict[str, Any]: ...

        def record(self, payload: EventPayload, *key: str) -> None: ...

    def note_activity(self, now: datetime) -> None:
        """A check-in, a KPI movement or the activation: the idle count starts again."""
        if self.last_activity_at is None or now > self.last_activity_at:
            self.last_activity_at = now

    @property
    def idle_since(self) -> datetime:
        # goals stored before activity was tracked count from their last change
        return self.last_activity_at or self.updated_at

    def update_reminder(self, now: datetime, stale_after_days: int) -> bool:
        """Record ``goal.update_reminder_due`` if the goal is idle and was not reminded this
        past week; either way ``update_check_at`` moves to when it could next be due."""
        if self.status != "active":
            return False
        since = self.idle_since
        due_at = since + timedelta(days=stale_after_days)
        if self.update_reminded_at is not None:
            due_at = max(due_at, self.update_reminded_at + REMIND_EVERY)
        if now < due_at:
            self.update_check_at = due_at
            return False
        week = iso_week(now)
        self.update_reminded_at = now
        self.update_check_at = now + REMIND_EVERY
        self.record(
            GoalUpdateReminderDue(
                **{**self.facts(), "last_activity_at": since},
                idle_days=(now - since).days,
                stale_after_days=stale_after_days,
                week=week,
            ),
            # once per goal and week, whichever replica or restart gets there
            self.id,
            "update_reminder",
            week,
        )
        return True
