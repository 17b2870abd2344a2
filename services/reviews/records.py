"""What the review aggregates share: their pending events, input checks and step errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.errors import Conflict, InvalidInput, RuleNotMet
from shared.events.envelope import EventPayload
from shared.events.reviews import Step

STEPS: tuple[Step, ...] = (
    "self_review",
    "peer_feedback",
    "manager_review",
    "calibration",
    "release",
)
MAX_TEXT = 10_000
PopulationKind = Literal["everyone", "department", "group"]
CycleStatus = Literal["draft", "launched", "released"]


class StepOutOfOrder(Conflict):
    code, title = "step-out-of-order", "This step of the review is not open"


@dataclass
class PendingEvent:
    payload: EventPayload
    key: tuple[str, ...] | None = None  # makes the event id deterministic


def check_ratings(ratings: dict[str, int], skills: tuple[str, ...] | list[str]) -> dict[str, int]:
    unknown = sorted(set(ratings) - set(skills))
    if unknown:
        raise RuleNotMet(f"ratings name unknown skills: {', '.join(unknown)}", skills=skills)
    for skill, value in ratings.items():
        if isinstance(value, bool) or not 1 <= value <= 5:
            raise InvalidInput(f"the rating of {skill} must be a whole number from 1 to 5")
    return dict(ratings)


def check_text(value: str | None, what: str) -> str | None:
    if value is not None and len(value) > MAX_TEXT:
        raise InvalidInput(f"{what} holds at most {MAX_TEXT} characters")
    return value
