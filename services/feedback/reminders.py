"""Reminders of an open feedback request to the reviewers who have not answered (no I/O).

``RequestReminders`` is a mixin of ``FeedbackRequest`` (as goals' ``ReviewRules`` is of
``Goal``). Two reminders: ``still_open`` three days after the request, and ``expires_soon`` a
day before it expires. Each goes once (``reminded`` remembers it, the event ids are
deterministic) to each reviewer still ``open``: never to one who answered or declined, never
for a completed or expired request. None comes within a day of the request itself (its own
notice just went out), and ``still_open`` is left out when it would come no earlier than
``expires_soon``. When the job was away past both, only the later one is sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from shared.events.feedback import FeedbackReminderDue

if TYPE_CHECKING:
    from datetime import date

    from services.feedback.domain import RequestStatus, Reviewer
    from shared.events.envelope import EventPayload

Reminder = Literal["still_open", "expires_soon"]
STILL_OPEN_AFTER = timedelta(days=3)
EXPIRES_SOON_BEFORE = timedelta(days=1)
QUIET_AFTER_ASKING = timedelta(days=1)


class RequestReminders:
    if TYPE_CHECKING:
        # provided by ``FeedbackRequest`` (declared for the type checker only)
        id: str
        tenant: str
        subject_id: str
        requester_id: str
        reviewers: list[Reviewer]
        due_date: date
        anonymous: bool
        goal_id: str | None
        created_at: datetime
        status: RequestStatus
        reminded: list[str]

        @property
        def expires_at(self) -> datetime: ...

        def _record(self, payload: EventPayload, now: datetime, *parts: str) -> None: ...

    def reminder_schedule(self) -> list[tuple[Reminder, datetime]]:
        """The reminders this request gets, in time order."""
        earliest = self.created_at + QUIET_AFTER_ASKING
        soon = self.expires_at - EXPIRES_SOON_BEFORE
        still_open = self.created_at + STILL_OPEN_AFTER
        schedule: list[tuple[Reminder, datetime]] = []
        if earliest <= still_open < soon:
            schedule.append(("still_open", still_open))
        if earliest <= soon:
            schedule.append(("expires_soon", soon))
        return schedule

    @property
    def next_reminder_at(self) -> datetime | None:
        """When the job should next look at this request (None: never again)."""
        if self.status != "open":
            return None
        pending = [at for name, at in self.reminder_schedule() if name not in self.reminded]
        return min(pending, default=None)

    def remind(self, now: datetime) -> int:
        """Record the reminder that is due to every reviewer still open; how many were sent."""
        if self.status != "open" or now >= self.expires_at:
            return 0
        due = [
            name for name, at in self.reminder_schedule() if at <= now and name not in self.reminded
        ]
        if not due:
            return 0
        self.reminded = [*self.reminded, *due]
        reminder = due[-1]  # one missed while the job was away is not sent late
        open_reviewers = [r for r in self.reviewers if r.status == "open"]
        for reviewer in open_reviewers:
            self._record(
                FeedbackReminderDue(
                    request_id=self.id,
                    tenant=self.tenant,
                    subject_id=self.subject_id,
                    requester_id=self.requester_id,
                    reviewer_id=reviewer.person_id,
                    reminder=reminder,
                    due_date=self.due_date,
                    expires_at=self.expires_at,
                    anonymous=self.anonymous,
                    goal_id=self.goal_id,
                ),
                now,
                "reminder",
                reminder,
                reviewer.person_id,
            )
        return len(open_reviewers)
