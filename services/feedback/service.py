"""Use cases of feedback requests: ask, answer, decline, expire, and the requests events ask for."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol, TypeVar

from services.feedback.access import Access, Viewer, access_of
from services.feedback.domain import (
    MIN_ANONYMOUS_RESPONSES,
    FeedbackRequest,
    RequestKind,
    Response,
    Reviewer,
    answer_key,
)
from services.feedback.repository import FeedbackRequestRepository, SharingPreferenceRepository
from shared.auth import Principal
from shared.directory import Person
from shared.errors import Forbidden, InvalidInput, NotFound, VersionConflict
from shared.events import deterministic_id
from shared.events.feedback import Relationship
from shared.time import Clock, utcnow

T = TypeVar("T")
SAVE_ATTEMPTS = 5


class Directory(Protocol):
    """The part of the people projection the service reads (shared.directory.PeopleDirectory)."""

    async def get(self, tenant: str, person_id: str) -> Person | None: ...
    async def many(self, tenant: str, person_ids: list[str]) -> dict[str, Person]: ...
    async def management_chain(self, tenant: str, person_id: str) -> list[str]: ...
    async def mentors_of(self, tenant: str, mentee_id: str) -> list[str]: ...
    async def manages(self, tenant: str, manager_id: str, person_id: str) -> bool: ...


def counted_as(reviewer_id: str, asked_as: Relationship, chain: list[str]) -> Relationship:
    """A reviewer anywhere in the subject's management chain (a skip-level manager, not only the
    direct one) is a manager, whatever the asker called them: owners see them as such, and as a
    reader who answered they set their own answer aside (FeedbackRequest.readable_by)."""
    return "manager" if reviewer_id in chain else asked_as


@dataclass(frozen=True)
class RequestPolicy:
    secret: bytes
    default_min_responses: int = 3
    max_reviewers: int = 50
    auto_request_due_days: int = 14


@dataclass(frozen=True)
class NewRequest:
    subject_id: str
    reviewers: list[tuple[str, Relationship]]
    skills: list[str]
    questions: list[str]
    due_date: date
    anonymous: bool
    min_responses: int | None = None
    goal_id: str | None = None


@dataclass(frozen=True)
class RequestView:
    """A request as one caller may see it."""

    request: FeedbackRequest
    as_reviewer: Reviewer | None  # set when the caller was asked
    as_owner: bool  # requester, subject, their managers, HR: the owner's view


class FeedbackRequests:
    def __init__(
        self,
        requests: FeedbackRequestRepository,
        sharing: SharingPreferenceRepository,
        directory: Directory,
        policy: RequestPolicy,
        *,
        clock: Clock = utcnow,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._requests = requests
        self._sharing = sharing
        self._directory = directory
        self._policy = policy
        self._clock = clock
        self._notify = notify

    # ------------------------------------------------------------------ access

    async def access(self, principal: Principal, subject_id: str) -> Access:
        viewer = Viewer(principal.person_id, principal.is_hr)
        if viewer.person_id == subject_id or viewer.is_hr:
            return Access.FULL
        return access_of(
            viewer,
            subject_id,
            management_chain=await self._directory.management_chain(principal.tenant, subject_id),
            mentors=await self._directory.mentors_of(principal.tenant, subject_id),
            shares_with_mentors=await self._sharing.shares_with_mentors(
                principal.tenant, subject_id
            ),
        )

    # ------------------------------------------------------------------ asking

    async def ask(self, principal: Principal, new: NewRequest) -> FeedbackRequest:
        """A person asks about themselves, a manager about a report, HR about anyone."""
        tenant = principal.tenant
        subject = await self._directory.get(tenant, new.subject_id)
        if subject is None and new.subject_id != principal.person_id:
            raise NotFound(f"person {new.subject_id} not found")
        if (
            new.subject_id != principal.person_id
            and not principal.is_hr
            and not await self._directory.manages(tenant, principal.person_id, new.subject_id)
        ):
            raise Forbidden("you may ask for feedback about yourself or the people you manage")
        await self._check_reviewers(tenant, [pid for pid, _ in new.reviewers])
        chain = await self._directory.management_chain(tenant, new.subject_id)
        request = FeedbackRequest.create(
            id=str(uuid.uuid4()),
            tenant=tenant,
            subject_id=new.subject_id,
            requester_id=principal.person_id,
            reviewers=[Reviewer(pid, counted_as(pid, rel, chain)) for pid, rel in new.reviewers],
            skills=new.skills,
            questions=new.questions,
            due_date=new.due_date,
            anonymous=new.anonymous,
            min_responses=new.min_responses or self._policy.default_min_responses,
            now=self._clock(),
            max_reviewers=self._policy.max_reviewers,
            goal_id=new.goal_id,
        )
        await self._requests.insert(request)
        self._notify()
        return request

    async def _check_reviewers(self, tenant: str, reviewer_ids: list[str]) -> None:
        known = await self._directory.many(tenant, reviewer_ids)
        unknown = [pid for pid in reviewer_ids if pid not in known or not known[pid].active]
        if unknown:
            raise InvalidInput(
                f"reviewers not found or inactive: {', '.join(unknown)}", reviewers=unknown
            )

    # ------------------------------------------------------------------ reading

    async def view(self, principal: Principal, request_id: str) -> RequestView:
        request = await self._requests.get(principal.tenant, request_id)
        if request is None:
            raise NotFound(f"feedback request {request_id} not found")
        as_reviewer = request.reviewer(principal.person_id)
        as_owner = principal.person_id == request.requester_id or (
            await self.access(principal, request.subject_id) is Access.FULL
        )
        if as_reviewer is None and not as_owner:
            raise NotFound(f"feedback request {request_id} not found")
        return RequestView(request, as_reviewer, as_owner)

    async def listing(
        self, principal: Principal, *, assigned_to_me: bool, status: str | None
    ) -> list[RequestView]:
        """Requests asked of me (with my own status), or the ones I asked or am the subject of."""
        tenant, me = principal.tenant, principal.person_id
        if assigned_to_me:
            views = [
                RequestView(r, r.reviewer(me), False)
                for r in await self._requests.assigned_to(tenant, me)
            ]
            if status == "open":  # what still waits for me
                return [
                    v
                    for v in views
                    if v.request.status == "open"
                    and v.as_reviewer is not None
                    and v.as_reviewer.status == "open"
                    and self._clock() < v.request.expires_at
                ]
            if status in ("answered", "declined"):
                return [v for v in views if v.as_reviewer and v.as_reviewer.status == status]
        else:
            found = {r.id: r for r in await self._requests.requested_by(tenant, me)}
            found.update({r.id: r for r in await self._requests.about(tenant, me)})
            ordered = sorted(found.values(), key=lambda r: r.created_at, reverse=True)
            views = [RequestView(r, r.reviewer(me), True) for r in ordered]
        if status:
            views = [v for v in views if v.request.status == status]
        return views

    # ------------------------------------------------------------------ answering

    async def submit(
        self,
        principal: Principal,
        request_id: str,
        *,
        ratings: dict[str, int],
        comments: str | None,
        answers: list[str],
    ) -> tuple[FeedbackRequest, Response]:
        response_id = str(uuid.uuid4())  # random: says nothing about who or when

        def change(request: FeedbackRequest) -> Response:
            return request.submit(
                reviewer_id=principal.person_id,
                key=self._key(request, principal.person_id),
                response_id=response_id,
                ratings=ratings,
                comments=comments,
                answers=answers,
                now=self._clock(),
            )

        return await self._change(principal.tenant, request_id, change)

    async def decline(self, principal: Principal, request_id: str) -> FeedbackRequest:
        def change(request: FeedbackRequest) -> None:
            request.decline(
                reviewer_id=principal.person_id,
                key=self._key(request, principal.person_id),
                now=self._clock(),
            )

        request, _ = await self._change(principal.tenant, request_id, change)
        return request

    def _key(self, request: FeedbackRequest, reviewer_id: str) -> str:
        return answer_key(self._policy.secret, f"{request.tenant}:{request.id}", reviewer_id)

    async def _change(
        self, tenant: str, request_id: str, change: Callable[[FeedbackRequest], T]
    ) -> tuple[FeedbackRequest, T]:
        """Load, apply, save with its events; a lost race reloads and re-checks the rules."""
        for attempt in range(SAVE_ATTEMPTS):
            request = await self._requests.get(tenant, request_id)
            if request is None:
                raise NotFound(f"feedback request {request_id} not found")
            result = change(request)
            try:
                await self._requests.save(request)
            except VersionConflict:
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
                continue
            self._notify()
            return request, result
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ expiry

    async def expire_overdue(self, batch: int = 200) -> int:
        """Close every open request past its due date (the periodic job)."""
        now = self._clock()
        expired = 0
        for request in await self._requests.overdue(now, batch):
            if request.expire(now):
                try:
                    await self._requests.save(request)
                except VersionConflict:
                    continue  # answered or expired meanwhile: the next run looks again
                expired += 1
        if expired:
            self._notify()
        return expired

    async def remind_due(self, batch: int = 200) -> int:
        """Send the reminders that are due of open requests (the periodic job); how many."""
        now = self._clock()
        sent = 0
        for request in await self._requests.reminders_due(now, batch):
            count = request.remind(now)
            if not count:
                # past its expiry (the expiry job closes it): nothing is left to remind of
                request.reminded = [name for name, _ in request.reminder_schedule()]
            try:
                await self._requests.save(request)
            except VersionConflict:
                continue  # answered meanwhile: the next run looks again
            sent += count
        if sent:
            self._notify()
        return sent

    # ------------------------------------------------------------------ asked for by events

    async def ask_on_behalf(
        self,
        *,
        event_id: str,
        tenant: str,
        subject_id: str,
        requester_id: str,
        reviewer_ids: list[str],
        questions: list[str],
        kind: RequestKind,
        goal_id: str | None = None,
        relationship: Relationship | None = None,
        skills: list[str] | None = None,
        due_date: date | None = None,
        anonymous: bool = False,
        min_responses: int | None = None,
    ) -> bool:
        """Create the request an event asks for, once per event id; False if nothing to do.

        An anonymous one keeps the same rules as one asked through the API: at least
        ``min_responses`` (never below the anonymity floor of 3) reviewers, or the event asks
        for nothing.
        """
        reviewer_ids = [pid for pid in dict.fromkeys(reviewer_ids) if pid and pid != subject_id]
        known = await self._directory.many(tenant, reviewer_ids)
        reviewer_ids = [pid for pid in reviewer_ids if pid not in known or known[pid].active]
        if not reviewer_ids:
            return False
        chain = await self._directory.management_chain(tenant, subject_id)
        reviewers = [
            Reviewer(
                pid,
                counted_as(
                    pid, relationship or await self._relationship(tenant, subject_id, pid), chain
                ),
            )
            for pid in reviewer_ids
        ]
        now = self._clock()
        default_due = now.date() + timedelta(days=self._policy.auto_request_due_days)
        due = max(due_date, now.date()) if due_date else default_due
        floor = max(MIN_ANONYMOUS_RESPONSES, min_responses or self._policy.default_min_responses)
        if anonymous and len(reviewers) < floor:
            return False
        request = FeedbackRequest.create(
            id=deterministic_id("feedback-request-from-event", tenant, event_id),
            tenant=tenant,
            subject_id=subject_id,
            requester_id=requester_id,
            reviewers=reviewers[: self._policy.max_reviewers],
            skills=skills or [],
            questions=questions,
            due_date=due,
            anonymous=anonymous,
            min_responses=floor if anonymous else 1,
            now=now,
            max_reviewers=self._policy.max_reviewers,
            kind=kind,
            goal_id=goal_id,
        )
        created = await self._requests.insert(request)
        if created:
            self._notify()
        return created

    async def _relationship(self, tenant: str, subject_id: str, reviewer_id: str) -> Relationship:
        if reviewer_id in await self._directory.mentors_of(tenant, subject_id):
            return "mentor"
        if reviewer_id in await self._directory.management_chain(tenant, subject_id):
            return "manager"
        if subject_id in await self._directory.management_chain(tenant, reviewer_id):
            return "report"
        return "peer"
