"""Feedback requests and their answers: the rules, with no I/O.

Anonymity model: for an anonymous request the reviewers' identities live only in ``reviewers``
(who was asked, and whether they answered yes/no), the answers live in ``responses`` with no
reviewer id, and the only thing that ties a reviewer to having answered is ``answer_keys``: a keyed
hash (HMAC) of (request id, reviewer id) that stops a second answer. Both lists are kept sorted
(responses by a random id, keys by value) so their order says nothing about who answered when.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from services.feedback.reminders import RequestReminders
from shared.errors import Conflict, DomainError, Forbidden, InvalidInput
from shared.events import deterministic_id, new_event
from shared.events.envelope import Envelope, EventPayload
from shared.events.feedback import (
    FeedbackDeclined,
    FeedbackReleased,
    FeedbackRequested,
    FeedbackRequestExpired,
    FeedbackSubmitted,
    Relationship,
)

# k-anonymity of anonymous answers: with two, each reviewer reads the other's by subtracting
# their own, so no anonymous answer (or aggregate of them) is shown before three exist
MIN_ANONYMOUS_RESPONSES = 3

SOURCE = "northstar/feedback"
SKILL_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_SKILLS = 20
MAX_QUESTIONS = 10
MAX_TEXT = 4000

RequestKind = Literal["requested", "goal", "handover", "review"]
RequestStatus = Literal["open", "completed", "expired"]
ReviewerStatus = Literal["open", "answered", "declined"]


class AlreadyAnswered(Conflict):
    code, title = "already-answered", "This feedback request was already answered"


class AlreadyDeclined(Conflict):
    code, title = "already-declined", "This feedback request was already declined"


class NotAReviewer(Forbidden):
    code, title = "not-a-reviewer", "You were not asked for feedback on this request"


class RequestExpired(DomainError):
    status, code, title = 410, "request-expired", "This feedback request has expired"


def answer_key(secret: bytes, request_id: str, reviewer_id: str) -> str:
    """The keyed hash that marks "this reviewer answered" without saying which answer is theirs."""
    message = f"{request_id}\x1f{reviewer_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def validate_skills(skills: list[str]) -> list[str]:
    if len(skills) > MAX_SKILLS:
        raise InvalidInput(f"at most {MAX_SKILLS} skills can be asked about")
    for skill in skills:
        if not SKILL_ID.match(skill):
            raise InvalidInput(f"skill id {skill!r} must be lowercase letters, digits and _")
    if len(set(skills)) != len(skills):
        raise InvalidInput("skills must not repeat")
    return skills


def validate_ratings(ratings: dict[str, int], allowed: list[str], *, complete: bool) -> None:
    unknown = sorted(set(ratings) - set(allowed))
    if unknown:
        raise InvalidInput(
            f"ratings name skills that were not asked about: {', '.join(unknown)}",
            allowed_skills=allowed,
        )
    missing = sorted(set(allowed) - set(ratings))
    if complete and missing:
        raise InvalidInput(f"a rating is required for every requested skill; missing: {missing}")
    for skill, value in ratings.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise InvalidInput(f"rating of {skill} must be a whole number from 1 to 5")


@dataclass
class Reviewer:
    person_id: str
    relationship: Relationship
    status: ReviewerStatus = "open"


@dataclass
class Response:
    """One answer. ``reviewer_id``/``relationship`` are set only for non-anonymous requests."""

    id: str
    ratings: dict[str, int]
    comments: str | None
    answers: list[str]
    submitted_on: date
    reviewer_id: str | None = None
    relationship: Relationship | None = None


@dataclass
class FeedbackRequest(RequestReminders):
    id: str
    tenant: str
    subject_id: str
    requester_id: str
    reviewers: list[Reviewer]
    skills: list[str]
    questions: list[str]
    due_date: date
    anonymous: bool
    min_responses: int
    created_at: datetime
    kind: RequestKind = "requested"
    goal_id: str | None = None
    status: RequestStatus = "open"
    answer_keys: list[str] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    released_on: date | None = None
    reminded: list[str] = field(default_factory=list)  # sent (services.feedback.reminders)
    version: int = 0
    events: list[Envelope] = field(default_factory=list, repr=False)

    # ------------------------------------------------------------------ creation

    @classmethod
    def create(
        cls,
        *,
        id: str,
        tenant: str,
        subject_id: str,
        requester_id: str,
        reviewers: list[Reviewer],
        skills: list[str],
        questions: list[str],
        due_date: date,
        anonymous: bool,
        min_responses: int,
        now: datetime,
        max_reviewers: int,
        kind: RequestKind = "requested",
        goal_id: str | None = None,
    ) -> FeedbackRequest:
        if not reviewers:
            raise InvalidInput("at least one reviewer is required")
        if len(reviewers) > max_reviewers:
            raise InvalidInput(f"at most {max_reviewers} reviewers can be asked at once")
        ids = [r.person_id for r in reviewers]
        if len(set(ids)) != len(ids):
            raise InvalidInput("a reviewer is listed twice")
        if subject_id in ids:
            raise InvalidInput("the subject cannot review themselves")
        validate_skills(skills)
        if len(questions) > MAX_QUESTIONS:
            raise InvalidInput(f"at most {MAX_QUESTIONS} questions can be asked")
        if any(not q.strip() or len(q) > MAX_TEXT for q in questions):
            raise InvalidInput(f"questions must be non-empty and at most {MAX_TEXT} characters")
        if not skills and not questions:
            raise InvalidInput("ask about at least one skill or one question")
        today = now.astimezone(UTC).date()
        if due_date < today:
            raise InvalidInput(f"due_date {due_date} is in the past")
        if due_date > today + timedelta(days=366):
            raise InvalidInput("due_date must be within a year")
        if anonymous:
            if min_responses < MIN_ANONYMOUS_RESPONSES:
                raise InvalidInput(
                    "an anonymous request needs min_responses of at least "
                    f"{MIN_ANONYMOUS_RESPONSES}: with fewer, a reviewer reads the others' "
                    "answers by setting their own aside"
                )
            if min_responses > len(reviewers):
                raise InvalidInput(
                    f"min_responses ({min_responses}) exceeds the number of reviewers "
                    f"({len(reviewers)}): the answers could never be released"
                )
        request = cls(
            id=id,
            tenant=tenant,
            subject_id=subject_id,
            requester_id=requester_id,
            reviewers=reviewers,
            skills=skills,
            questions=questions,
            due_date=due_date,
            anonymous=anonymous,
            min_responses=min_responses if anonymous else 1,
            created_at=now,
            kind=kind,
            goal_id=goal_id,
        )
        for reviewer in reviewers:
            request._record(
                FeedbackRequested(
                    request_id=id,
                    tenant=tenant,
                    subject_id=subject_id,
                    requester_id=requester_id,
                    reviewer_id=reviewer.person_id,
                    relationship=reviewer.relationship,
                    skills=skills,
                    due_date=due_date,
                    anonymous=anonymous,
                    goal_id=goal_id,
                ),
                now,
                "requested",
                reviewer.person_id,
            )
        return request

    # ------------------------------------------------------------------ reading

    @property
    def expires_at(self) -> datetime:
        """Answers are accepted until the end of the due date (UTC)."""
        return datetime.combine(self.due_date + timedelta(days=1), time(0), tzinfo=UTC)

    @property
    def answered_count(self) -> int:
        return len(self.responses)

    @property
    def declined_count(self) -> int:
        return sum(1 for r in self.reviewers if r.status == "declined")

    @property
    def open_reviewer_ids(self) -> list[str]:
        return [r.person_id for r in self.reviewers if r.status == "open"]

    @property
    def released(self) -> bool:
        """Answers are readable: always if named, from ``min_responses`` answers if anonymous,
        and never from fewer than the floor (a request stored before it, released at 2, is
        hidden again until a third answer)."""
        return not self.anonymous or (
            self.released_on is not None and self.answered_count >= MIN_ANONYMOUS_RESPONSES
        )

    def reviewer(self, person_id: str) -> Reviewer | None:
        return next((r for r in self.reviewers if r.person_id == person_id), None)

    def readable_by(self, reader_id: str | None) -> bool:
        """Whether this reader may see the answers: named ones always; anonymous ones once
        released and, for a reader who answered it themselves (a manager anywhere in the subject's
        chain asked as a reviewer, HR, the requester), once the floor is met by the others'
        answers: setting their own aside must still leave MIN_ANONYMOUS_RESPONSES."""
        if not self.anonymous:
            return True
        if not self.released:
            return False
        own = self.reviewer(reader_id) if reader_id else None
        answered = own is not None and own.status == "answered"
        return self.answered_count - int(answered) >= MIN_ANONYMOUS_RESPONSES

    def readable_responses(self, reader_id: str | None = None) -> list[Response]:
        """The answers as ``reader_id`` sees them: anonymous ones only once readable by them
        (``readable_by``), unnamed, and dated no earlier than the release, so the first batch's
        dates say nothing either."""
        if not self.anonymous:
            return list(self.responses)
        if not self.readable_by(reader_id) or (on := self.released_on) is None:
            return []
        return [
            replace(r, submitted_on=max(r.submitted_on, on), reviewer_id=None, relationship=None)
            for r in self.responses
        ]

    # ------------------------------------------------------------------ changes

    def submit(
        self,
        *,
        reviewer_id: str,
        key: str,
        response_id: str,
        ratings: dict[str, int],
        comments: str | None,
        answers: list[str],
        now: datetime,
    ) -> Response:
        reviewer = self._answerable_by(reviewer_id, key, now)
        validate_ratings(ratings, self.skills, complete=True)
        if comments is not None and len(comments) > MAX_TEXT:
            raise InvalidInput(f"comments must be at most {MAX_TEXT} characters")
        if len(answers) > len(self.questions):
            raise InvalidInput(f"{len(answers)} answers given to {len(self.questions)} questions")
        if any(len(a) > MAX_TEXT for a in answers):
            raise InvalidInput(f"answers must be at most {MAX_TEXT} characters each")
        if not ratings and not (comments or "").strip() and not any(a.strip() for a in answers):
            raise InvalidInput("an answer needs ratings, comments or answers to the questions")
        response = Response(
            id=response_id,
            ratings=dict(ratings),
            comments=comments,
            answers=list(answers),
            submitted_on=now.astimezone(UTC).date(),
            reviewer_id=None if self.anonymous else reviewer_id,
            relationship=None if self.anonymous else reviewer.relationship,
        )
        reviewer.status = "answered"
        self.answer_keys = sorted([*self.answer_keys, key])
        self.responses = sorted([*self.responses, response], key=lambda r: r.id)
        self._record(
            FeedbackSubmitted(
                request_id=self.id,
                tenant=self.tenant,
                subject_id=self.subject_id,
                requester_id=self.requester_id,
                anonymous=self.anonymous,
                reviewer_id=None if self.anonymous else reviewer_id,
                goal_id=self.goal_id,
                skills=sorted(ratings),
                ratings=dict(ratings) if self.released else {},
            ),
            now,
            "submitted",
            response_id,
        )
        reached = self.answered_count >= max(self.min_responses, MIN_ANONYMOUS_RESPONSES)
        if self.anonymous and self.released_on is None and reached:
            self.released_on = now.astimezone(UTC).date()
            self._record(
                FeedbackReleased(
                    request_id=self.id,
                    tenant=self.tenant,
                    subject_id=self.subject_id,
                    requester_id=self.requester_id,
                    response_count=self.answered_count,
                    ratings=[dict(r.ratings) for r in self.responses if r.ratings],
                ),
                now,
                "released",
            )
        self._complete_if_done()
        return response

    def decline(self, *, reviewer_id: str, key: str, now: datetime) -> None:
        reviewer = self._answerable_by(reviewer_id, key, now)
        reviewer.status = "declined"
        self._record(
            FeedbackDeclined(
                request_id=self.id,
                tenant=self.tenant,
                subject_id=self.subject_id,
                requester_id=self.requester_id,
                reviewer_id=None if self.anonymous else reviewer_id,
            ),
            now,
            "declined",
            key,
        )
        self._complete_if_done()

    def expire(self, now: datetime) -> bool:
        """Close an overdue open request; False when it is not (or no longer) overdue."""
        if self.status != "open" or now < self.expires_at:
            return False
        self.status = "expired"
        open_ids = self.open_reviewer_ids
        self._record(
            FeedbackRequestExpired(
                request_id=self.id,
                tenant=self.tenant,
                subject_id=self.subject_id,
                requester_id=self.requester_id,
                # who did not answer tells who did: never named for anonymous requests
                open_reviewer_ids=[] if self.anonymous else open_ids,
                open_count=len(open_ids),
                response_count=self.answered_count,
                released=self.released,
            ),
            now,
            "expired",
        )
        return True

    # ------------------------------------------------------------------ internals

    def _answerable_by(self, reviewer_id: str, key: str, now: datetime) -> Reviewer:
        reviewer = self.reviewer(reviewer_id)
        if reviewer is None:
            raise NotAReviewer("you were not asked for feedback on this request")
        if key in self.answer_keys or reviewer.status == "answered":
            raise AlreadyAnswered("you already answered this request; an answer is final")
        if reviewer.status == "declined":
            raise AlreadyDeclined("you declined this request")
        if self.status == "expired" or now >= self.expires_at:
            raise RequestExpired(
                f"this request was due on {self.due_date.isoformat()} and no longer takes answers",
                due_date=self.due_date.isoformat(),
            )
        if self.status != "open":
            raise Conflict(f"this request is {self.status}")
        return reviewer

    def _complete_if_done(self) -> None:
        if not self.open_reviewer_ids:
            self.status = "completed"

    def _record(self, payload: EventPayload, now: datetime, *parts: str) -> None:
        self.events.append(
            new_event(
                payload,
                tenant=self.tenant,
                subject=self.id,
                source=SOURCE,
                id=deterministic_id("feedback-request", self.tenant, self.id, *parts),
                time=now,
            )
        )
