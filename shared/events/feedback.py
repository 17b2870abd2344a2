"""Events of the feedback service on ``northstar.feedback.v1`` (key = request or feedback id).

Anonymity: for an anonymous request no event after ``feedback.requested`` names a reviewer.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from shared.events.envelope import EventPayload, event
from shared.events.topics import FEEDBACK

Relationship = Literal["mentor", "peer", "manager", "report", "cross_functional"]


@event("northstar.feedback.requested.v1", FEEDBACK)
class FeedbackRequested(EventPayload):
    """One per reviewer: tells that reviewer what is asked of them."""

    request_id: str
    tenant: str
    subject_id: str
    requester_id: str
    reviewer_id: str
    relationship: Relationship
    skills: list[str] = []
    due_date: date | None = None
    anonymous: bool = False
    goal_id: str | None = None


@event("northstar.feedback.submitted.v1", FEEDBACK)
class FeedbackSubmitted(EventPayload):
    request_id: str
    tenant: str
    subject_id: str
    requester_id: str
    anonymous: bool
    reviewer_id: str | None = None  # None whenever the request is anonymous
    goal_id: str | None = None
    skills: list[str] = []
    # the answer's ratings when its reader may see them at once: always for a named request,
    # for an anonymous one only after its release (before, they wait in feedback.released)
    ratings: dict[str, int] = {}


@event("northstar.feedback.declined.v1", FEEDBACK)
class FeedbackDeclined(EventPayload):
    request_id: str
    tenant: str
    subject_id: str
    requester_id: str
    reviewer_id: str | None = None  # None whenever the request is anonymous


@event("northstar.feedback.request_expired.v1", FEEDBACK)
class FeedbackRequestExpired(EventPayload):
    request_id: str
    tenant: str
    subject_id: str
    requester_id: str
    open_reviewer_ids: list[str] = []  # always empty for anonymous requests
    open_count: int | None = None  # how many reviewers had not answered
    response_count: int | None = None
    released: bool | None = None  # False: an anonymous request closed below min_responses


@event("northstar.feedback.released.v1", FEEDBACK)
class FeedbackReleased(EventPayload):
    """An anonymous request reached its minimum responses: the answers became readable."""

    request_id: str
    tenant: str
    subject_id: str
    requester_id: str
    response_count: int
    # every answer's ratings, unnamed and in the random order of the answers' ids
    ratings: list[dict[str, int]] = []


@event("northstar.feedback.given.v1", FEEDBACK)
class FeedbackGiven(EventPayload):
    feedback_id: str
    tenant: str
    from_id: str
    to_id: str
    skills: list[str] = []
    visibility: Literal["private", "manager", "public"] = "private"
