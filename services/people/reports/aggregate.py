"""The reports' arithmetic, pure: the population, its groups, and each report's rows.

Every report is a list of rows, one per group of the population (by department, by team: the
people sharing a direct manager, or by manager: everyone below a manager at any level, so one
person counts in each manager above them), and a total row over the whole population.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from shared.orgchart import MAX_CHAIN

GroupBy = Literal["department", "team", "manager"]
Bucket = Literal["achieved", "on_track", "at_risk", "no_recent_update"]

NO_DEPARTMENT = "(no department)"
NO_MANAGER = "(no manager)"
TOTAL = "(total)"


@dataclass(frozen=True)
class Member:
    """A live, active person of the tenant as the org chart holds them."""

    id: str
    name: str
    department: str | None = None
    manager_id: str | None = None


@dataclass(frozen=True)
class Filters:
    """Who a report covers (None: anyone) and over which period [start, end)."""

    start: datetime
    end: datetime
    department: str | None = None  # compared case-insensitively
    team: str | None = None  # the direct manager's id
    manager: str | None = None  # anyone below this person, at any level


@dataclass(frozen=True)
class Group:
    key: str
    label: str


class OrgChart:
    """The tenant's people, their chains of managers, and the groups a report uses."""

    def __init__(self, members: Iterable[Member]) -> None:
        self.members = {m.id: m for m in members}

    def chain(self, person_id: str) -> list[str]:
        """The ids above a person, their manager first (stops at a cycle or MAX_CHAIN)."""
        found: list[str] = []
        member = self.members.get(person_id)
        manager = member.manager_id if member else None
        while manager and manager != person_id and manager not in found:
            found.append(manager)
            if len(found) >= MAX_CHAIN:
                break
            above = self.members.get(manager)
            manager = above.manager_id if above else None
        return found

    def population(self, filters: Filters) -> list[Member]:
        department = filters.department.casefold() if filters.department else None
        return [
            m
            for m in self.members.values()
            if (department is None or (m.department or "").casefold() == department)
            and (filters.team is None or m.manager_id == filters.team)
            and (filters.manager is None or filters.manager in self.chain(m.id))
        ]

    def label(self, person_id: str) -> str:
        member = self.members.get(person_id)
        return member.name if member else person_id

    def groups(self, member: Member, by: GroupBy) -> list[Group]:
        if by == "department":
            if not member.department:
                return [Group("", NO_DEPARTMENT)]
            return [Group(member.department.casefold(), member.department)]
        if by == "team":
            if not member.manager_id:
                return [Group("", NO_MANAGER)]
            return [Group(member.manager_id, self.label(member.manager_id))]
        return [Group(m, self.label(m)) for m in self.chain(member.id)]


@dataclass
class Grouped:
    """The population split by groups (sorted by label), plus the total."""

    groups: list[tuple[Group, list[Member]]]
    everyone: list[Member]

    @classmethod
    def of(cls, chart: OrgChart, filters: Filters, by: GroupBy) -> Grouped:
        population = chart.population(filters)
        found: dict[str, tuple[Group, list[Member]]] = {}
        for member in population:
            for group in chart.groups(member, by):
                found.setdefault(group.key, (group, []))[1].append(member)
        ordered = sorted(found.values(), key=lambda g: (g[0].label.casefold(), g[0].key))
        return cls(ordered, population)

    def each(self) -> list[tuple[Group, list[Member]]]:
        """The groups, then the total row (key ``*``)."""
        return [*self.groups, (Group("*", TOTAL), self.everyone)]


# ---------------------------------------------------------------- goal attainment


@dataclass(frozen=True)
class GoalFact:
    goal_id: str
    owner_id: str
    status: str
    at_risk: bool
    created_at: datetime
    last_activity_at: datetime | None = None
    achieved_at: datetime | None = None


def bucket(
    goal: GoalFact, filters: Filters, now: datetime, stale_after: timedelta
) -> Bucket | None:
    """Where a goal counts, as the goals service defines its states: achieved (within the
    period), else an active goal is at risk (the goals service's flag), else without a recent
    update (no check-in, KPI movement or activation for ``stale_after``), else on track.
    Drafts, abandoned goals and goals achieved outside the period do not count."""
    if goal.status == "achieved":
        at = goal.achieved_at
        return "achieved" if at is not None and filters.start <= at < filters.end else None
    if goal.status != "active":
        return None
    if goal.at_risk:
        return "at_risk"
    if (goal.last_activity_at or goal.created_at) < now - stale_after:
        return "no_recent_update"
    return "on_track"


def goal_attainment(
    grouped: Grouped,
    goals: Sequence[GoalFact],
    filters: Filters,
    now: datetime,
    stale_after: timedelta,
) -> list[dict[str, object]]:
    by_owner: dict[str, list[Bucket]] = defaultdict(list)
    for goal in goals:
        where = bucket(goal, filters, now, stale_after)
        if where is not None:
            by_owner[goal.owner_id].append(where)
    rows: list[dict[str, object]] = []
    for group, members in grouped.each():
        counts = {"achieved": 0, "on_track": 0, "at_risk": 0, "no_recent_update": 0}
        for member in members:
            for where in by_owner.get(member.id, ()):
                counts[where] += 1
        rows.append(
            {
                "group": group.key,
                "label": group.label,
                "people": len(members),
                "goals": sum(counts.values()),
                **counts,
            }
        )
    return rows


# ---------------------------------------------------------------- check-in participation


@dataclass(frozen=True)
class CheckInFact:
    check_in_id: str
    owner_id: str
    at: datetime


def check_in_participation(
    grouped: Grouped,
    goals: Sequence[GoalFact],
    check_ins: Sequence[CheckInFact],
    filters: Filters,
) -> list[dict[str, object]]:
    """Of the people with an active goal, how many checked in on one of their goals within
    the period."""
    with_active = {g.owner_id for g in goals if g.status == "active"}
    checked = {c.owner_id for c in check_ins if filters.start <= c.at < filters.end}
    rows: list[dict[str, object]] = []
    for group, members in grouped.each():
        active = [m.id for m in members if m.id in with_active]
        did = sum(1 for pid in active if pid in checked)
        rows.append(
            {
                "group": group.key,
                "label": group.label,
                "people_with_active_goals": len(active),
                "checked_in": did,
                "share": round(did / len(active), 4) if active else None,
            }
        )
    return rows


# ---------------------------------------------------------------- feedback responses


@dataclass(frozen=True)
class RequestFact:
    request_id: str
    subject_id: str
    asked_at: datetime
    asked: int  # reviewers asked


@dataclass(frozen=True)
class AnswerFact:
    request_id: str
    kind: Literal["answered", "declined"]
    at: datetime


def _hours(values: list[float], how: Callable[[list[float]], float]) -> float | None:
    return round(how(values) / 3600, 2) if values else None


def feedback_responses(
    grouped: Grouped,
    requests: Sequence[RequestFact],
    answers: Sequence[AnswerFact],
    filters: Filters,
) -> list[dict[str, object]]:
    """Requests asked within the period, by the group of the person they are about: reviewers
    asked, answers and declines so far, and the time from asking to each answer."""
    asked = {r.request_id: r for r in requests if filters.start <= r.asked_at < filters.end}
    by_request: dict[str, list[AnswerFact]] = defaultdict(list)
    for answer in answers:
        if answer.request_id in asked:
            by_request[answer.request_id].append(answer)
    by_subject: dict[str, list[RequestFact]] = defaultdict(list)
    for request in asked.values():
        by_subject[request.subject_id].append(request)
    rows: list[dict[str, object]] = []
    for group, members in grouped.each():
        mine = [r for m in members for r in by_subject.get(m.id, ())]
        replies = [a for r in mine for a in by_request.get(r.request_id, ())]
        waits = [
            (a.at - asked[a.request_id].asked_at).total_seconds()
            for a in replies
            if a.kind == "answered"
        ]
        requested = sum(r.asked for r in mine)
        rows.append(
            {
                "group": group.key,
                "label": group.label,
                "requests": len(mine),
                "reviewers_asked": requested,
                "answered": len(waits),
                "declined": sum(1 for a in replies if a.kind == "declined"),
                "answer_rate": round(len(waits) / requested, 4) if requested else None,
                "median_hours_to_answer": _hours(waits, statistics.median),
                "mean_hours_to_answer": _hours(waits, statistics.fmean),
            }
        )
    return rows


# ---------------------------------------------------------------- skill averages


@dataclass(frozen=True)
class RatingFact:
    """One answer's ratings about a person, never naming its author."""

    subject_id: str
    at: datetime
    ratings: dict[str, int] = field(default_factory=dict)


def skill_averages(
    grouped: Grouped,
    ratings: Sequence[RatingFact],
    filters: Filters,
    min_answers: int,
) -> list[dict[str, object]]:
    """Per group and skill, the mean rating of the answers about the group's people within
    the period. A cell from fewer than ``min_answers`` answers is suppressed (no average),
    as feedback shows no anonymous aggregate below its minimum; and the total of a skill is
    suppressed too when the suppressed cells hold fewer than ``min_answers`` answers together,
    or it would give a small cell away by subtraction."""
    by_subject: dict[str, list[RatingFact]] = defaultdict(list)
    for fact in ratings:
        if filters.start <= fact.at < filters.end:
            by_subject[fact.subject_id].append(fact)

    def values_of(members: list[Member]) -> dict[str, list[int]]:
        values: dict[str, list[int]] = defaultdict(list)
        for member in members:
            for fact in by_subject.get(member.id, ()):
                for skill, value in fact.ratings.items():
                    values[skill].append(value)
        return values

    def cell(group: Group, skill: str, values: list[int], hidden: bool) -> dict[str, object]:
        return {
            "group": group.key,
            "label": group.label,
            "skill": skill,
            "answers": len(values),
            "average": None if hidden else round(statistics.fmean(values), 2),
            "suppressed": hidden,
        }

    rows: list[dict[str, object]] = []
    hidden_answers: dict[str, int] = defaultdict(int)
    for group, members in grouped.groups:
        values = values_of(members)
        for skill in sorted(values):
            small = len(values[skill]) < min_answers
            if small:
                hidden_answers[skill] += len(values[skill])
            rows.append(cell(group, skill, values[skill], small))
    total = values_of(grouped.everyone)
    for skill in sorted(total):
        hidden = len(total[skill]) < min_answers or 0 < hidden_answers[skill] < min_answers
        rows.append(cell(Group("*", TOTAL), skill, total[skill], hidden))
    return rows
