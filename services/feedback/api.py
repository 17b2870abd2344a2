"""HTTP routes of the feedback service (thin: parse, call one use case, map the result)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, status

from services.feedback.domain import FeedbackRequest
from services.feedback.reading import FeedbackReading
from services.feedback.schemas import (
    FeedbackCreate,
    FeedbackItemPublic,
    FeedbackPublic,
    FeedbackRequestCreate,
    FeedbackRequestPublic,
    FeedbackResponseCreate,
    FeedbackSummary,
    SharingPublic,
    SharingUpdate,
    SkillSummaryPublic,
)
from services.feedback.service import FeedbackRequests, NewRequest, RequestView
from shared.auth import CurrentPrincipal
from shared.pagination import InvalidCursor, Page, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1", tags=["feedback"])
T = TypeVar("T")


def _requests(request: Request) -> FeedbackRequests:
    return request.app.state.feedback_requests  # type: ignore[no-any-return]


def _reading(request: Request) -> FeedbackReading:
    return request.app.state.feedback_reading  # type: ignore[no-any-return]


Requests = Annotated[FeedbackRequests, Depends(_requests)]
Reading = Annotated[FeedbackReading, Depends(_reading)]
Limit = Annotated[int, Query(ge=1, le=200)]


def _page(items: Sequence[T], cursor: str | None, limit: int) -> tuple[list[T], str | None]:
    position = decode_cursor(cursor) or {"offset": 0}
    offset = position.get("offset")
    if not isinstance(offset, int) or offset < 0:
        raise InvalidCursor("the cursor is not one this API returned")
    page = list(items[offset : offset + limit])
    more = offset + limit < len(items)
    return page, encode_cursor({"offset": offset + limit}) if more else None


def _as_reviewer(request: FeedbackRequest, person_id: str) -> FeedbackRequestPublic:
    return FeedbackRequestPublic.of(RequestView(request, request.reviewer(person_id), False))


@router.post(
    "/feedback-requests", status_code=status.HTTP_201_CREATED, response_model_exclude_none=True
)
async def create_request(
    body: FeedbackRequestCreate, principal: CurrentPrincipal, requests: Requests
) -> FeedbackRequestPublic:
    """Ask reviewers for feedback about a person (yourself, a report, or anyone for HR)."""
    created = await requests.ask(
        principal,
        NewRequest(
            subject_id=body.subject_id,
            reviewers=[(r.person_id, r.relationship) for r in body.reviewers],
            skills=body.skills,
            questions=body.questions,
            due_date=body.due_date,
            anonymous=body.anonymous,
            min_responses=body.min_responses,
            goal_id=body.goal_id,
        ),
    )
    as_reviewer = created.reviewer(principal.person_id)
    return FeedbackRequestPublic.of(RequestView(created, as_reviewer, True))


@router.get("/feedback-requests", response_model_exclude_none=True)
async def list_requests(
    principal: CurrentPrincipal,
    requests: Requests,
    assigned_to: Literal["me"] | None = None,
    status: Literal["open", "answered", "declined", "completed", "expired"] | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[FeedbackRequestPublic]:
    """Requests asked of me (`assigned_to=me`), else the ones I asked or that are about me."""
    views = await requests.listing(principal, assigned_to_me=assigned_to == "me", status=status)
    page, next_cursor = _page(views, cursor, limit)
    return Page(items=[FeedbackRequestPublic.of(v) for v in page], next_cursor=next_cursor)


@router.get("/feedback-requests/{request_id}", response_model_exclude_none=True)
async def get_request(
    request_id: str, principal: CurrentPrincipal, requests: Requests
) -> FeedbackRequestPublic:
    """One request as the caller may see it (reviewer's or owner's view)."""
    return FeedbackRequestPublic.of(await requests.view(principal, request_id))


@router.post(
    "/feedback-requests/{request_id}/responses",
    status_code=status.HTTP_201_CREATED,
    response_model_exclude_none=True,
)
async def answer_request(
    request_id: str, body: FeedbackResponseCreate, principal: CurrentPrincipal, requests: Requests
) -> FeedbackRequestPublic:
    """Answer a request once: a rating 1-5 per requested skill, comments, answers."""
    request, _ = await requests.submit(
        principal, request_id, ratings=body.ratings, comments=body.comments, answers=body.answers
    )
    return _as_reviewer(request, principal.person_id)


@router.post("/feedback-requests/{request_id}/decline", response_model_exclude_none=True)
async def decline_request(
    request_id: str, principal: CurrentPrincipal, requests: Requests
) -> FeedbackRequestPublic:
    """Decline a request asked of you."""
    request = await requests.decline(principal, request_id)
    return _as_reviewer(request, principal.person_id)


@router.post("/feedback", status_code=status.HTTP_201_CREATED)
async def give_feedback(
    body: FeedbackCreate, principal: CurrentPrincipal, reading: Reading
) -> FeedbackPublic:
    """Give unprompted feedback or praise to someone."""
    praise = await reading.give(
        principal,
        to_id=body.to,
        skills=body.skills,
        ratings=body.ratings,
        comment=body.comment,
        visibility=body.visibility,
    )
    return FeedbackPublic.model_validate(praise)


@router.get("/people/{person_id}/feedback")
async def person_feedback(
    person_id: str,
    principal: CurrentPrincipal,
    reading: Reading,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[FeedbackItemPublic]:
    """The feedback about a person that the caller may read, newest first."""
    items = await reading.feedback_of(principal, person_id)
    page, next_cursor = _page(items, cursor, limit)
    return Page(items=[FeedbackItemPublic.model_validate(i) for i in page], next_cursor=next_cursor)


@router.get("/people/{person_id}/feedback-summary")
async def person_feedback_summary(
    person_id: str,
    principal: CurrentPrincipal,
    reading: Reading,
    from_: Annotated[
        date | None,
        Query(alias="from", description="Not after `to`; a period is at most 1098 days."),
    ] = None,
    to: date | None = None,
) -> FeedbackSummary:
    """Per skill: mean, count and trend against the previous period of the same length."""
    end = to or date.today()
    start = from_ or end - timedelta(days=89)
    (prev_start, prev_end), skills = await reading.summary(principal, person_id, start, end)
    return FeedbackSummary(
        person_id=person_id,
        period={"from": start, "to": end},
        previous_period={"from": prev_start, "to": prev_end},
        skills=[SkillSummaryPublic.model_validate(s) for s in skills],
    )


@router.get("/people/me/feedback-sharing")
async def get_sharing(principal: CurrentPrincipal, reading: Reading) -> SharingPublic:
    """Whether my mentors may read my feedback."""
    return SharingPublic(share_with_mentors=await reading.shares_with_mentors(principal))


@router.put("/people/me/feedback-sharing")
async def put_sharing(
    body: SharingUpdate, principal: CurrentPrincipal, reading: Reading
) -> SharingPublic:
    """Let my mentors read my feedback (or stop them)."""
    await reading.share_with_mentors(principal, body.share_with_mentors)
    return SharingPublic(share_with_mentors=body.share_with_mentors)
