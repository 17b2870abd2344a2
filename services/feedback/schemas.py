"""Request and response models of the feedback API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from services.feedback.domain import MAX_TEXT, SKILL_ID, FeedbackRequest
from services.feedback.praise import Visibility
from services.feedback.service import RequestView
from shared.events.feedback import Relationship
from shared.schemas import KEYS_BY_PATTERN, Strict, whole_number

# strict: neither "3" nor true is a rating; 3.0 is, as JSON Schema's integer says
Rating = Annotated[int, Field(ge=1, le=5, strict=True), BeforeValidator(whole_number)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Id = Annotated[str, Field(min_length=1, max_length=200)]
# a skill id (also a field name of the stored ratings): the domain's rule, shown in OpenAPI
SkillKey = Annotated[str, StringConstraints(pattern=SKILL_ID.pattern)]


class ReviewerIn(Strict):
    person_id: Id
    relationship: Relationship


class FeedbackRequestCreate(Strict):
    subject_id: Id
    reviewers: list[ReviewerIn] = Field(min_length=1, max_length=200)
    skills: list[SkillKey] = Field(default_factory=list, max_length=20)
    questions: list[Text] = Field(default_factory=list, max_length=10)
    goal_id: Id | None = None
    due_date: date
    anonymous: bool = False
    min_responses: int | None = Field(None, ge=1, le=200)


class FeedbackResponseCreate(Strict):
    ratings: Annotated[dict[SkillKey, Rating], KEYS_BY_PATTERN] = Field(default_factory=dict)
    comments: Text | None = None
    answers: list[Text] = Field(default_factory=list, max_length=10)


class FeedbackCreate(Strict):
    to: Id
    skills: list[SkillKey] = Field(default_factory=list, max_length=20)
    ratings: Annotated[dict[SkillKey, Rating], KEYS_BY_PATTERN] = Field(default_factory=dict)
    comment: Text
    visibility: Visibility = "private"


class SharingUpdate(Strict):
    share_with_mentors: bool = Field(strict=True)  # 0 is not false


class SharingPublic(BaseModel):
    share_with_mentors: bool


class ReviewerPublic(BaseModel):
    person_id: str
    relationship: Relationship
    # only on named requests: on anonymous ones nobody but the reviewer learns who answered
    status: Literal["open", "answered", "declined"] | None = None


class ResponsePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    on: date = Field(validation_alias="submitted_on")
    ratings: dict[str, int]
    comments: str | None
    answers: list[str]
    reviewer_id: str | None = None  # None on anonymous requests
    relationship: Relationship | None = None


class Progress(BaseModel):
    asked: int
    answered: int
    declined: int
    open: int


class FeedbackRequestPublic(BaseModel):
    id: str
    kind: str
    subject_id: str
    requester_id: str
    skills: list[str]
    questions: list[str]
    goal_id: str | None
    due_date: date
    expires_at: datetime
    anonymous: bool
    min_responses: int
    status: str
    created_at: datetime
    # the reviewer's own view
    my_status: Literal["open", "answered", "declined"] | None = None
    my_relationship: Relationship | None = None
    # the owner's view (requester, subject, their managers, HR)
    reviewers: list[ReviewerPublic] | None = None
    progress: Progress | None = None
    released: bool | None = None
    responses: list[ResponsePublic] | None = None

    @classmethod
    def of(cls, view: RequestView) -> FeedbackRequestPublic:
        r = view.request
        body = cls(
            id=r.id,
            kind=r.kind,
            subject_id=r.subject_id,
            requester_id=r.requester_id,
            skills=r.skills,
            questions=r.questions,
            goal_id=r.goal_id,
            due_date=r.due_date,
            expires_at=r.expires_at,
            anonymous=r.anonymous,
            min_responses=r.min_responses,
            status=r.status,
            created_at=r.created_at,
        )
        if view.as_reviewer is not None:
            body.my_status = view.as_reviewer.status
            body.my_relationship = view.as_reviewer.relationship
        if view.as_owner:
            body.reviewers = [
                ReviewerPublic(
                    person_id=rv.person_id,
                    relationship=rv.relationship,
                    status=None if r.anonymous else rv.status,
                )
                for rv in r.reviewers
            ]
            body.progress = Progress(
                asked=len(r.reviewers),
                answered=r.answered_count,
                declined=r.declined_count,
                open=len(r.open_reviewer_ids),
            )
            body.released = r.released
            # a reader who was asked too counts their own answer out (FeedbackRequest.readable_by)
            reader = view.as_reviewer.person_id if view.as_reviewer else None
            body.responses = _responses(r, reader)
        return body


def _responses(r: FeedbackRequest, reader_id: str | None) -> list[ResponsePublic]:
    # sorted by random id: their order says nothing
    return [ResponsePublic.model_validate(resp) for resp in r.readable_responses(reader_id)]


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    from_id: str
    to: str = Field(validation_alias="to_id")
    skills: list[str]
    ratings: dict[str, int]
    comment: str
    visibility: Visibility
    created_at: datetime


class FeedbackItemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: Literal["response", "praise"]
    id: str
    on: date
    ratings: dict[str, int]
    comments: str | None
    anonymous: bool
    from_id: str | None
    relationship: str | None = None
    request_id: str | None = None
    goal_id: str | None = None
    questions: list[str] = []
    answers: list[str] = []
    visibility: Visibility | None = None


class SkillSummaryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    skill: str
    mean: float | None
    count: int
    previous_mean: float | None
    previous_count: int
    trend: float | None
    direction: Literal["up", "down", "flat", "new", "none"]


class FeedbackSummary(BaseModel):
    person_id: str
    period: dict[str, date]
    previous_period: dict[str, date]
    skills: list[SkillSummaryPublic]
