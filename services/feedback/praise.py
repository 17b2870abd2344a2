"""Unprompted feedback and praise: one person to another, never anonymous."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from services.feedback.domain import MAX_TEXT, SOURCE, validate_ratings, validate_skills
from shared.errors import InvalidInput
from shared.events import new_event
from shared.events.envelope import Envelope
from shared.events.feedback import FeedbackGiven

Visibility = Literal["private", "manager", "public"]


@dataclass
class Praise:
    id: str
    tenant: str
    from_id: str
    to_id: str
    skills: list[str]
    ratings: dict[str, int]
    comment: str
    visibility: Visibility
    created_at: datetime
    events: list[Envelope] = field(default_factory=list, repr=False)

    @classmethod
    def give(
        cls,
        *,
        id: str,
        tenant: str,
        from_id: str,
        to_id: str,
        skills: list[str],
        ratings: dict[str, int],
        comment: str,
        visibility: Visibility,
        now: datetime,
    ) -> Praise:
        if from_id == to_id:
            raise InvalidInput("feedback goes to someone else, not to yourself")
        validate_skills(skills)
        validate_ratings(ratings, skills, complete=False)
        if not comment.strip():
            raise InvalidInput("a comment is required")
        if len(comment) > MAX_TEXT:
            raise InvalidInput(f"the comment must be at most {MAX_TEXT} characters")
        praise = cls(
            id=id,
            tenant=tenant,
            from_id=from_id,
            to_id=to_id,
            skills=skills,
            ratings=dict(ratings),
            comment=comment,
            visibility=visibility,
            created_at=now,
        )
        praise.events.append(
            new_event(
                FeedbackGiven(
                    feedback_id=id,
                    tenant=tenant,
                    from_id=from_id,
                    to_id=to_id,
                    skills=skills,
                    visibility=visibility,
                ),
                tenant=tenant,
                subject=id,
                source=SOURCE,
                time=now,
            )
        )
        return praise
