"""Who may read whose feedback, and the per-skill summary: pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum

from services.feedback.praise import Visibility
from shared.errors import RuleNotMet

MAX_PERIOD_DAYS = 3 * 366


class Access(Enum):
    """How much of a person's feedback a viewer reads."""

    FULL = "full"  # the subject, their management chain, HR admins
    MENTOR = "mentor"  # a mentor the subject shares with: answers to requests + public praise
    OTHER = "other"  # anyone else in the tenant: public praise only (and what they gave)


@dataclass(frozen=True)
class Viewer:
    person_id: str
    is_hr: bool


def access_of(
    viewer: Viewer,
    subject_id: str,
    *,
    management_chain: list[str],
    mentors: list[str],
    shares_with_mentors: bool,
) -> Access:
    if viewer.person_id == subject_id or viewer.is_hr or viewer.person_id in management_chain:
        return Access.FULL
    if shares_with_mentors and viewer.person_id in mentors:
        return Access.MENTOR
    return Access.OTHER


def praise_visible(
    access: Access, viewer: Viewer, *, from_id: str, to_id: str, visibility: Visibility
) -> bool:
    """Private: giver and receiver; manager: + management chain and HR; public: everyone."""
    if viewer.person_id in (from_id, to_id) or visibility == "public":
        return True
    return visibility == "manager" and access is Access.FULL


@dataclass(frozen=True)
class Rated:
    """Ratings a reader may see, with the date they count on."""

    on: date
    ratings: dict[str, int]


@dataclass(frozen=True)
class SkillSummary:
    skill: str
    mean: float | None
    count: int
    previous_mean: float | None
    previous_count: int
    trend: float | None  # mean - previous_mean, when both periods have ratings
    direction: str  # up | down | flat | new | none


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length that ends the day before ``start``."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def check_period(start: date, end: date) -> None:
    if end < start:
        raise RuleNotMet("`to` must not be before `from`")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise RuleNotMet(f"a summary period is at most {MAX_PERIOD_DAYS} days")


def summarize(entries: list[Rated], start: date, end: date) -> list[SkillSummary]:
    """Mean and count per skill over [start, end] and over the previous period of that length."""
    check_period(start, end)
    prev_start, prev_end = previous_period(start, end)
    current: dict[str, list[int]] = {}
    previous: dict[str, list[int]] = {}
    for entry in entries:
        if start <= entry.on <= end:
            bucket = current
        elif prev_start <= entry.on <= prev_end:
            bucket = previous
        else:
            continue
        for skill, value in entry.ratings.items():
            bucket.setdefault(skill, []).append(value)
    summaries = []
    for skill in sorted(set(current) | set(previous)):
        now_values, then_values = current.get(skill, []), previous.get(skill, [])
        mean = _mean(now_values)
        prev = _mean(then_values)
        trend = round(mean - prev, 2) if mean is not None and prev is not None else None
        if trend is None:
            direction = "new" if mean is not None else "none"
        else:
            direction = "up" if trend > 0 else "down" if trend < 0 else "flat"
        summaries.append(
            SkillSummary(
                skill=skill,
                mean=mean,
                count=len(now_values),
                previous_mean=prev,
                previous_count=len(then_values),
                trend=trend,
                direction=direction,
            )
        )
    return summaries


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None
