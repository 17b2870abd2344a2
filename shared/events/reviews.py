"""Events of the reviews service on ``northstar.reviews.v1`` (key = review or cycle id).

Each names the people it concerns, so notifications can tell everyone what is theirs to do
without a lookup.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from shared.events.envelope import EventPayload, event
from shared.events.topics import REVIEWS

Step = Literal["self_review", "peer_feedback", "manager_review", "calibration", "release"]
Form = Literal["self", "manager"]


@event("northstar.review.cycle_launched.v1", REVIEWS)
class ReviewCycleLaunched(EventPayload):
    cycle_id: str
    tenant: str
    name: str
    period_start: date
    period_end: date
    review_count: int
    deadlines: dict[str, date] = {}  # step -> date
    launched_by: str | None = None


@event("northstar.review.assigned.v1", REVIEWS)
class ReviewAssigned(EventPayload):
    """A review was opened for a person: they write the self review, their manager the rest."""

    review_id: str
    cycle_id: str
    tenant: str
    cycle_name: str
    person_id: str
    manager_id: str | None = None
    self_review_due: date | None = None
    manager_review_due: date | None = None


@event("northstar.review.peers_nominated.v1", REVIEWS)
class ReviewPeersNominated(EventPayload):
    """The person named peers; their manager approves them."""

    review_id: str
    cycle_id: str
    tenant: str
    person_id: str
    manager_id: str | None = None
    peer_ids: list[str] = []


@event("northstar.review.peer_feedback_requested.v1", REVIEWS)
class ReviewPeerFeedbackRequested(EventPayload):
    """The manager approved the peers: the feedback service asks them (once per event id)."""

    review_id: str
    cycle_id: str
    tenant: str
    subject_id: str
    requester_id: str
    reviewer_ids: list[str]
    skills: list[str] = []
    questions: list[str] = []
    due_date: date | None = None
    anonymous: bool = False
    min_responses: int | None = None


@event("northstar.review.submitted.v1", REVIEWS)
class ReviewSubmitted(EventPayload):
    review_id: str
    cycle_id: str
    tenant: str
    person_id: str
    manager_id: str | None = None
    form: Form
    ratings: dict[str, int] = {}  # skill -> 1..5 as written in the form
    overall_rating: int | None = None  # manager form only


@event("northstar.review.calibrated.v1", REVIEWS)
class ReviewCalibrated(EventPayload):
    review_id: str
    cycle_id: str
    tenant: str
    person_id: str
    old_rating: int | None = None
    new_rating: int
    reason: str
    calibrated_by: str


@event("northstar.review.released.v1", REVIEWS)
class ReviewReleased(EventPayload):
    """The manager review became visible to the person, who acknowledges it."""

    review_id: str
    cycle_id: str
    tenant: str
    person_id: str
    manager_id: str | None = None
    overall_rating: int | None = None


@event("northstar.review.acknowledged.v1", REVIEWS)
class ReviewAcknowledged(EventPayload):
    review_id: str
    cycle_id: str
    tenant: str
    person_id: str
    manager_id: str | None = None


@event("northstar.review.reminder_due.v1", REVIEWS)
class ReviewReminderDue(EventPayload):
    """A step of a review (or of its cycle, for HR) is due soon and not done; sent once."""

    review_id: str | None = None  # None: a cycle-level step (calibration, release)
    cycle_id: str
    tenant: str
    step: Step
    recipient_id: str
    person_id: str | None = None  # whose review it is
    due_on: date


@event("northstar.career.level_changed.v1", REVIEWS)
class CareerLevelChanged(EventPayload):
    tenant: str
    person_id: str
    ladder_id: str
    current_level: str | None = None
    target_level: str | None = None
    source: Literal["hr", "manager", "title", "person"]
