"""The reports API (JWT, HR admins and admins, the caller's tenant only): each report as JSON
and as CSV, over a period and a population of the org chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from services.people.audit_api import From, To, _date_time
from services.people.reports.aggregate import Filters, GroupBy
from services.people.reports.service import Report, Reports, csv_text, report_rows
from shared.auth import HRPrincipal
from shared.errors import InvalidInput, RuleNotMet

router = APIRouter(prefix="/v1/reports", tags=["reports"])


# ---------------------------------------------------------------- schemas


class ReportBase(BaseModel):
    group_by: Literal["department", "team", "manager"]
    period_start: datetime
    period_end: datetime
    department: str | None
    team: str | None
    manager: str | None
    generated_at: datetime


class RowBase(BaseModel):
    group: str  # the department (case-folded), the manager's id, "" for none, "*" for the total
    label: str


class GoalAttainmentRow(RowBase):
    people: int
    goals: int
    achieved: int
    on_track: int
    at_risk: int
    no_recent_update: int


class GoalAttainmentReport(ReportBase):
    stale_after_days: int
    rows: list[GoalAttainmentRow]
    total: GoalAttainmentRow


class CheckInRow(RowBase):
    people_with_active_goals: int
    checked_in: int
    share: float | None  # None when nobody has an active goal


class CheckInReport(ReportBase):
    rows: list[CheckInRow]
    total: CheckInRow


class FeedbackRow(RowBase):
    requests: int
    reviewers_asked: int
    answered: int
    declined: int
    answer_rate: float | None
    median_hours_to_answer: float | None
    mean_hours_to_answer: float | None


class FeedbackReport(ReportBase):
    rows: list[FeedbackRow]
    total: FeedbackRow


class SkillRow(RowBase):
    skill: str
    answers: int
    average: float | None  # None when suppressed
    suppressed: bool


class SkillReport(ReportBase):
    min_answers: int
    rows: list[SkillRow]
    total: list[SkillRow]


# ---------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Scope:
    filters: Filters
    group_by: GroupBy


def _text(description: str) -> Any:
    # the document store cannot hold (nor search for) a NUL character: refused as the schema says
    return Query(min_length=1, max_length=200, pattern=r"^[^\x00]*$", description=description)


def _utc(value: str | None, name: str) -> datetime | None:
    parsed = _date_time(value, name)
    try:
        return parsed.astimezone(UTC) if parsed is not None else None
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00
        raise InvalidInput(f"{name} is out of range", field=name) from exc


def _reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


def _query(
    request: Request,
    start: From = None,
    end: To = None,
    group_by: Annotated[
        Literal["department", "team", "manager"],
        Query(
            description="department; team (the people sharing a direct manager); manager "
            "(everyone below a manager at any level: one person counts under each manager "
            "above them)"
        ),
    ] = "department",
    department: Annotated[str | None, _text("Only this department (any case).")] = None,
    team: Annotated[str | None, _text("Only the direct reports of this person.")] = None,
    manager: Annotated[str | None, _text("Only the people below this person, any level.")] = None,
) -> Scope:
    """The period (default: the last 30 days, ``PEOPLE_REPORTS_DEFAULT_PERIOD_DAYS``) and the
    population every report takes."""
    since, until = _utc(start, "from"), _utc(end, "to")
    try:
        filters = _reports(request).filters(
            since, until, department=department, team=team, manager=manager
        )
    except OverflowError as exc:  # a ``to`` so early that the default period starts before 1 AD
        raise InvalidInput("the period starts before the year 1", field="from") from exc
    if filters.start >= filters.end:
        raise RuleNotMet("from must be before to", field="from")
    return Scope(filters, group_by)


Params = Annotated[Scope, Depends(_query)]
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def _csv(name: str, columns: list[str], report: Report) -> Response:
    return Response(
        csv_text(columns, report_rows(report)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _columns(row: type[BaseModel]) -> list[str]:
    return list(row.model_fields)


# ---------------------------------------------------------------- routes


@router.get("/goal-attainment", response_model=GoalAttainmentReport)
async def goal_attainment(
    request: Request,
    principal: HRPrincipal,
    params: Params,
    stale_after_days: Annotated[
        int | None,
        Query(ge=1, le=365, description="Overrides PEOPLE_REPORTS_STALE_AFTER_DAYS."),
    ] = None,
) -> Report:
    """Goals by group: achieved within the period; active ones at risk (the goals service's
    flag), without a recent update (no check-in, KPI movement or activation for
    ``stale_after_days``), or on track, as of now."""
    return await _reports(request).goal_attainment(
        principal.tenant, params.filters, params.group_by, stale_after_days
    )


@router.get("/goal-attainment.csv", response_class=Response, responses=CSV)
async def goal_attainment_csv(
    request: Request,
    principal: HRPrincipal,
    params: Params,
    stale_after_days: Annotated[int | None, Query(ge=1, le=365)] = None,
) -> Response:
    """The same report as CSV: a line per group, then the total (group ``*``)."""
    report = await _reports(request).goal_attainment(
        principal.tenant, params.filters, params.group_by, stale_after_days
    )
    return _csv("goal-attainment", _columns(GoalAttainmentRow), report)


@router.get("/check-in-participation", response_model=CheckInReport)
async def check_in_participation(
    request: Request, principal: HRPrincipal, params: Params
) -> Report:
    """Of the people with an active goal, the share who checked in on one within the period."""
    return await _reports(request).check_in_participation(
        principal.tenant, params.filters, params.group_by
    )


@router.get("/check-in-participation.csv", response_class=Response, responses=CSV)
async def check_in_participation_csv(
    request: Request, principal: HRPrincipal, params: Params
) -> Response:
    """The same report as CSV: a line per group, then the total (group ``*``)."""
    report = await _reports(request).check_in_participation(
        principal.tenant, params.filters, params.group_by
    )
    return _csv("check-in-participation", _columns(CheckInRow), report)


@router.get("/feedback-responses", response_model=FeedbackReport)
async def feedback_responses(request: Request, principal: HRPrincipal, params: Params) -> Report:
    """Feedback requests asked within the period, by the group of the person they are about:
    reviewers asked, answered and declined, and the hours from asking to answering."""
    return await _reports(request).feedback_responses(
        principal.tenant, params.filters, params.group_by
    )


@router.get("/feedback-responses.csv", response_class=Response, responses=CSV)
async def feedback_responses_csv(
    request: Request, principal: HRPrincipal, params: Params
) -> Response:
    """The same report as CSV: a line per group, then the total (group ``*``)."""
    report = await _reports(request).feedback_responses(
        principal.tenant, params.filters, params.group_by
    )
    return _csv("feedback-responses", _columns(FeedbackRow), report)


@router.get("/skill-averages", response_model=SkillReport)
async def skill_averages(request: Request, principal: HRPrincipal, params: Params) -> Report:
    """Mean feedback rating per group and skill within the period; a cell from fewer than
    ``min_answers`` answers is suppressed (no average), and so is a total that would give a
    suppressed cell away. No row names an author."""
    return await _reports(request).skill_averages(principal.tenant, params.filters, params.group_by)


@router.get("/skill-averages.csv", response_class=Response, responses=CSV)
async def skill_averages_csv(request: Request, principal: HRPrincipal, params: Params) -> Response:
    """The same report as CSV: a line per group and skill, then the totals (group ``*``)."""
    report = await _reports(request).skill_averages(
        principal.tenant, params.filters, params.group_by
    )
    return _csv("skill-averages", _columns(SkillRow), report)
