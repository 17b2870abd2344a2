"""A review: the rules, with no I/O (its cycle is in ``cycle.py``).

A review holds the person's self review, the peers they nominate and their manager approves,
the manager review, HR's calibration adjustments (kept, with who, when and why), and the
release and acknowledgement. Methods enforce the order of the
steps and record the events of each change; ids of events a retry could repeat are
deterministic (``PendingEvent.key``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from services.reviews.cycle import Cycle
from services.reviews.records import PendingEvent, StepOutOfOrder, check_ratings, check_text
from shared.errors import Conflict, InvalidInput, RuleNotMet
from shared.events.envelope import EventPayload
from shared.events.reviews import (
    ReviewAcknowledged,
    ReviewAssigned,
    ReviewCalibrated,
    ReviewPeerFeedbackRequested,
    ReviewPeersNominated,
    ReviewReleased,
    ReviewReminderDue,
    ReviewSubmitted,
    Step,
)

PEER_QUESTIONS = [
    "What did this person do especially well during the period?",
    "What should they focus on to grow?",
]


@dataclass
class SelfReview:
    ratings: dict[str, int]
    goal_comments: dict[str, str]
    comments: str | None
    submitted_at: datetime


@dataclass
class ManagerReview:
    ratings: dict[str, int]
    overall_rating: int
    summary: str
    submitted_by: str
    submitted_at: datetime


@dataclass
class Adjustment:
    """A calibration change, kept for the record."""

    old_rating: int | None
    new_rating: int
    reason: str
    by: str
    at: datetime


@dataclass
class Review:
    id: str
    tenant: str
    cycle_id: str
    cycle_name: str
    person_id: str
    manager_id: str | None
    department: str | None
    period_start: date
    period_end: date
    deadlines: dict[str, date]
    created_at: datetime
    self_review: SelfReview | None = None
    nominated_peers: list[str] = field(default_factory=list)
    approved_peers: list[str] | None = None  # None: not approved yet
    approved_by: str | None = None
    manager_review: ManagerReview | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    released_at: datetime | None = None
    acknowledged_at: datetime | None = None
    reminded: list[str] = field(default_factory=list)
    version: int = 0
    events: list[PendingEvent] = field(default_factory=list, repr=False)

    @classmethod
    def assign(
        cls,
        cycle: Cycle,
        *,
        id: str,
        person_id: str,
        manager_id: str | None,
        department: str | None,
        now: datetime,
    ) -> Review:
        review = cls(
            id=id,
            tenant=cycle.tenant,
            cycle_id=cycle.id,
            cycle_name=cycle.name,
            person_id=person_id,
            manager_id=manager_id,
            department=department,
            period_start=cycle.period_start,
            period_end=cycle.period_end,
            deadlines=dict(cycle.deadlines),
            created_at=now,
        )
        review._record(
            ReviewAssigned(
                review_id=id,
                cycle_id=cycle.id,
                tenant=cycle.tenant,
                cycle_name=cycle.name,
                person_id=person_id,
                manager_id=manager_id,
                self_review_due=cycle.deadlines["self_review"],
                manager_review_due=cycle.deadlines["manager_review"],
            ),
            "assigned",
        )
        return review

    # ------------------------------------------------------------------ reading

    @property
    def released(self) -> bool:
        return self.released_at is not None

    @property
    def final_rating(self) -> int | None:
        """The overall rating after calibration."""
        if self.adjustments:
            return self.adjustments[-1].new_rating
        return self.manager_review.overall_rating if self.manager_review else None

    def step_done(self, step: Step) -> bool:
        match step:
            case "self_review":
                return self.self_review is not None
            case "peer_feedback":
                return self.approved_peers is not None
            case "manager_review":
                return self.manager_review is not None
        return self.released

    # ------------------------------------------------------------------ the person

    def submit_self(
        self,
        *,
        ratings: dict[str, int],
        goal_comments: dict[str, str],
        comments: str | None,
        skills: tuple[str, ...],
        now: datetime,
    ) -> None:
        if self.self_review is not None:
            raise Conflict("the self review was already submitted")
        self._open()
        for text in goal_comments.values():
            check_text(text, "a goal comment")
        self.self_review = SelfReview(
            check_ratings(ratings, skills),
            dict(goal_comments),
            check_text(comments, "comments"),
            now,
        )
        self._submitted("self", self.self_review.ratings, None)

    def nominate_peers(self, peer_ids: list[str], *, max_peers: int) -> None:
        if self.approved_peers is not None:
            raise Conflict("the peers were already approved")
        self._open()
        peers = list(dict.fromkeys(peer_ids))
        if not peers or len(peers) > max_peers:
            raise RuleNotMet(f"nominate 1 to {max_peers} peers")
        if self.person_id in peers:
            raise RuleNotMet("a person cannot be their own peer reviewer")
        self.nominated_peers = peers
        self._record(
            ReviewPeersNominated(
                review_id=self.id,
                cycle_id=self.cycle_id,
                tenant=self.tenant,
                person_id=self.person_id,
                manager_id=self.manager_id,
                peer_ids=peers,
            ),
            "nominated",
            *peers,
        )

    def acknowledge(self, now: datetime) -> None:
        if not self.released:
            raise StepOutOfOrder("the review is not released yet")
        if self.acknowledged_at is not None:
            raise Conflict("the review was already acknowledged")
        self.acknowledged_at = now
        self._record(
            ReviewAcknowledged(
                review_id=self.id,
                cycle_id=self.cycle_id,
                tenant=self.tenant,
                person_id=self.person_id,
                manager_id=self.manager_id,
            ),
            "acknowledged",
        )

    # ------------------------------------------------------------------ the manager

    def approve_peers(
        self,
        approved: list[str] | None,
        *,
        by: str,
        skills: tuple[str, ...],
        anonymous_minimum: int,
    ) -> None:
        if self.approved_peers is not None:
            raise Conflict("the peers were already approved")
        self._open()
        if not self.nominated_peers:
            raise StepOutOfOrder("no peers were nominated yet")
        chosen = list(dict.fromkeys(approved)) if approved is not None else self.nominated_peers
        outside = sorted(set(chosen) - set(self.nominated_peers))
        if outside:
            raise RuleNotMet(f"only nominated peers can be approved: {', '.join(outside)}")
        if not chosen:
            raise InvalidInput("approve at least one of the nominated peers")
        self.approved_peers, self.approved_by = chosen, by
        # enough peers to hide who said what: ask anonymously (feedback enforces its rules)
        anonymous = len(chosen) >= anonymous_minimum
        self._record(
            ReviewPeerFeedbackRequested(
                review_id=self.id,
                cycle_id=self.cycle_id,
                tenant=self.tenant,
                subject_id=self.person_id,
                requester_id=by,
                reviewer_ids=chosen,
                skills=list(skills),
                questions=PEER_QUESTIONS,
                due_date=self.deadlines["peer_feedback"],
                anonymous=anonymous,
                min_responses=anonymous_minimum if anonymous else None,
            ),
            "peers-approved",
        )

    def submit_manager(
        self,
        *,
        ratings: dict[str, int],
        overall_rating: int,
        summary: str,
        by: str,
        skills: tuple[str, ...],
        scale: int,
        now: datetime,
    ) -> None:
        if self.manager_review is not None:
            raise Conflict("the manager review was already submitted")
        self._open()
        if isinstance(overall_rating, bool) or not 1 <= overall_rating <= scale:
            raise RuleNotMet(f"the overall rating is a whole number from 1 to {scale}")
        if not summary.strip():
            raise InvalidInput("the manager review needs a summary")
        self.manager_review = ManagerReview(
            check_ratings(ratings, skills),
            overall_rating,
            check_text(summary, "the summary") or "",
            by,
            now,
        )
        self._submitted("manager", self.manager_review.ratings, overall_rating)

    # ------------------------------------------------------------------ HR

    def calibrate(self, *, rating: int, reason: str, by: str, scale: int, now: datetime) -> None:
        if self.manager_review is None:
            raise StepOutOfOrder("a review is calibrated once its manager review is submitted")
        self._open()
        if isinstance(rating, bool) or not 1 <= rating <= scale:
            raise RuleNotMet(f"the rating is a whole number from 1 to {scale}")
        if not reason.strip():
            raise InvalidInput("a calibration change needs a reason")
        old = self.final_rating
        self.adjustments.append(
            Adjustment(old, rating, check_text(reason, "the reason") or "", by, now)
        )
        self._record(
            ReviewCalibrated(
                review_id=self.id,
                cycle_id=self.cycle_id,
                tenant=self.tenant,
                person_id=self.person_id,
                old_rating=old,
                new_rating=rating,
                reason=reason,
                calibrated_by=by,
            ),
            "calibrated",
            str(len(self.adjustments)),
        )

    def release(self, now: datetime) -> bool:
        """Make the manager review visible to the person; False when there is none yet."""
        if self.released or self.manager_review is None:
            return False
        self.released_at = now
        self._record(
            ReviewReleased(
                review_id=self.id,
                cycle_id=self.cycle_id,
                tenant=self.tenant,
                person_id=self.person_id,
                manager_id=self.manager_id,
                overall_rating=self.final_rating,
            ),
            "released",
        )
        return True

    # ------------------------------------------------------------------ reminders

    def remind(self, today: date, lead: timedelta) -> int:
        """Record a reminder for each step due within ``lead`` and not done; each only once."""
        count = 0
        for step, who in self._waiting_on():
            due = self.deadlines[step]
            key = f"{step}:{who}"
            recipient = self.person_id if who == "person" else self.manager_id
            if recipient is None or key in self.reminded or not due - lead <= today <= due:
                continue
            self.reminded.append(key)
            self._record(
                ReviewReminderDue(
                    review_id=self.id,
                    cycle_id=self.cycle_id,
                    tenant=self.tenant,
                    step=step,
                    recipient_id=recipient,
                    person_id=self.person_id,
                    due_on=due,
                ),
                "reminder",
                key,
            )
            count += 1
        return count

    def _waiting_on(self) -> list[tuple[Step, str]]:
        """The steps not done yet, with whose turn it is."""
        if self.released:
            return []
        waiting: list[tuple[Step, str]] = []
        if self.self_review is None:
            waiting.append(("self_review", "person"))
        if self.approved_peers is None:
            waiting.append(("peer_feedback", "manager" if self.nominated_peers else "person"))
        if self.manager_review is None:
            waiting.append(("manager_review", "manager"))
        return waiting

    # ------------------------------------------------------------------ internals

    def _open(self) -> None:
        if self.released:
            raise StepOutOfOrder("the review is released and can no longer change")

    def _submitted(
        self, form: Literal["self", "manager"], ratings: dict[str, int], overall: int | None
    ) -> None:
        self._record(
            ReviewSubmitted(
                review_id=self.id,
                cycle_id=self.cycle_id,
                tenant=self.tenant,
                person_id=self.person_id,
                manager_id=self.manager_id,
                form=form,
                ratings=ratings,
                overall_rating=overall,
            ),
            "submitted",
            form,
        )

    def _record(self, payload: EventPayload, *key: str) -> None:
        self.events.append(PendingEvent(payload, ("review", self.tenant, self.id, *key)))
