"""Use cases of reading a person's feedback, its per-skill summary, and giving praise."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from services.feedback.access import (
    Access,
    Rated,
    SkillSummary,
    Viewer,
    check_period,
    praise_visible,
    previous_period,
    summarize,
)
from services.feedback.praise import Praise, Visibility
from services.feedback.repository import (
    FeedbackRequestRepository,
    PraiseRepository,
    SharingPreferenceRepository,
)
from services.feedback.service import Directory, FeedbackRequests
from shared.auth import Principal
from shared.errors import Forbidden, NotFound
from shared.time import Clock, utcnow


@dataclass(frozen=True)
class FeedbackItem:
    """One piece of feedback a reader sees. ``from_id`` is None for anonymous answers."""

    kind: Literal["response", "praise"]
    id: str
    on: date
    ratings: dict[str, int]
    comments: str | None
    anonymous: bool
    from_id: str | None = None
    relationship: str | None = None
    request_id: str | None = None
    goal_id: str | None = None
    questions: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    visibility: Visibility | None = None


class FeedbackReading:
    def __init__(
        self,
        requests: FeedbackRequestRepository,
        praise: PraiseRepository,
        sharing: SharingPreferenceRepository,
        directory: Directory,
        asking: FeedbackRequests,
        *,
        clock: Clock = utcnow,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._requests = requests
        self._praise = praise
        self._sharing = sharing
        self._directory = directory
        self._asking = asking
        self._clock = clock
        self._notify = notify

    async def _known(self, principal: Principal, person_id: str) -> None:
        if person_id != principal.person_id and not await self._directory.get(
            principal.tenant, person_id
        ):
            raise NotFound(f"person {person_id} not found")

    async def feedback_of(self, principal: Principal, subject_id: str) -> list[FeedbackItem]:
        """What this viewer may read about the subject, newest first."""
        await self._known(principal, subject_id)
        access = await self._asking.access(principal, subject_id)
        viewer = Viewer(principal.person_id, principal.is_hr)
        items: list[FeedbackItem] = []
        if access is not Access.OTHER:
            items.extend(await self._responses(principal.tenant, subject_id, principal.person_id))
        for praise in await self._praise.to_person(principal.tenant, subject_id):
            if praise_visible(
                access,
                viewer,
                from_id=praise.from_id,
                to_id=praise.to_id,
                visibility=praise.visibility,
            ):
                items.append(_praise_item(praise))
        # newest first; ties by id, which is random for anonymous answers (no order leaks)
        items.sort(key=lambda item: (item.on, item.id), reverse=True)
        return items

    async def _responses(self, tenant: str, subject_id: str, reader_id: str) -> list[FeedbackItem]:
        items = []
        for request in await self._requests.about(tenant, subject_id):
            # anonymous answers stay hidden until min_responses answered (without the reader's own)
            for response in request.readable_responses(reader_id):
                items.append(
                    FeedbackItem(
                        kind="response",
                        id=response.id,
                        on=response.submitted_on,
                        ratings=response.ratings,
                        comments=response.comments,
                        anonymous=request.anonymous,
                        from_id=response.reviewer_id,
                        relationship=response.relationship,
                        request_id=request.id,
                        goal_id=request.goal_id,
                        questions=tuple(request.questions),
                        answers=tuple(response.answers),
                    )
                )
        return items

    async def summary(
        self, principal: Principal, subject_id: str, start: date, end: date
    ) -> tuple[tuple[date, date], list[SkillSummary]]:
        """Per skill: mean and count over [start, end], and the trend against the period before."""
        check_period(start, end)
        await self._known(principal, subject_id)
        if await self._asking.access(principal, subject_id) is Access.OTHER:
            raise Forbidden(
                "the feedback summary is for the person, their managers, HR and the mentors "
                "they share it with"
            )
        items = await self.feedback_of(principal, subject_id)
        rated = [Rated(on=item.on, ratings=item.ratings) for item in items if item.ratings]
        return previous_period(start, end), summarize(rated, start, end)

    async def give(
        self,
        principal: Principal,
        *,
        to_id: str,
        skills: list[str],
        ratings: dict[str, int],
        comment: str,
        visibility: Visibility,
    ) -> Praise:
        recipient = await self._directory.get(principal.tenant, to_id)
        if recipient is None or not recipient.active:
            raise NotFound(f"person {to_id} not found")
        praise = Praise.give(
            id=str(uuid.uuid4()),
            tenant=principal.tenant,
            from_id=principal.person_id,
            to_id=to_id,
            skills=skills,
            ratings=ratings,
            comment=comment,
            visibility=visibility,
            now=self._clock(),
        )
        await self._praise.insert(praise)
        self._notify()
        return praise

    async def shares_with_mentors(self, principal: Principal) -> bool:
        return await self._sharing.shares_with_mentors(principal.tenant, principal.person_id)

    async def share_with_mentors(self, principal: Principal, value: bool) -> None:
        await self._sharing.set_shares_with_mentors(principal.tenant, principal.person_id, value)


def _praise_item(praise: Praise) -> FeedbackItem:
    created: datetime = praise.created_at
    return FeedbackItem(
        kind="praise",
        id=praise.id,
        on=created.date(),
        ratings=praise.ratings,
        comments=praise.comment,
        anonymous=False,
        from_id=praise.from_id,
        visibility=praise.visibility,
    )
