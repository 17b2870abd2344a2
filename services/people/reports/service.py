"""The reports: each loads the facts it needs from the read model and the org chart, and hands
them to the arithmetic of ``aggregate``. Rows are plain dicts; the API gives them their schema,
and ``csv_lines`` turns them into a CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from services.people.reports.aggregate import (
    AnswerFact,
    CheckInFact,
    Filters,
    GoalFact,
    GroupBy,
    Grouped,
    Member,
    OrgChart,
    RatingFact,
    RequestFact,
    check_in_participation,
    feedback_responses,
    goal_attainment,
    skill_averages,
)


class Facts(Protocol):
    """What the reports read (``ReportStore``, or a fake in unit tests)."""

    async def members(self, tenant: str) -> list[Member]: ...

    async def goal_facts(self, tenant: str) -> list[GoalFact]: ...

    async def check_in_facts(
        self, tenant: str, start: datetime, end: datetime
    ) -> list[CheckInFact]: ...

    async def request_facts(
        self, tenant: str, start: datetime, end: datetime
    ) -> tuple[list[RequestFact], list[AnswerFact]]: ...

    async def rating_facts(
        self, tenant: str, start: datetime, end: datetime
    ) -> list[RatingFact]: ...


Report = dict[str, Any]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Reports:
    def __init__(
        self,
        facts: Facts,
        *,
        stale_after_days: int,
        min_answers: int,
        default_period_days: int,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.facts = facts
        self.stale_after_days = stale_after_days
        self.min_answers = min_answers
        self.default_period = timedelta(days=default_period_days)
        self.clock = clock

    def filters(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        department: str | None = None,
        team: str | None = None,
        manager: str | None = None,
    ) -> Filters:
        """The period defaults to the last ``default_period_days`` up to now."""
        end = end or self.clock()
        return Filters(start or end - self.default_period, end, department, team, manager)

    async def _grouped(self, tenant: str, filters: Filters, by: GroupBy) -> Grouped:
        return Grouped.of(OrgChart(await self.facts.members(tenant)), filters, by)

    def _report(self, filters: Filters, by: GroupBy, rows: list[dict[str, object]]) -> Report:
        return {
            "group_by": by,
            "period_start": filters.start,
            "period_end": filters.end,
            "department": filters.department,
            "team": filters.team,
            "manager": filters.manager,
            "generated_at": self.clock(),
            "rows": [r for r in rows if r["group"] != "*"],
            "total": [r for r in rows if r["group"] == "*"],
        }

    async def goal_attainment(
        self, tenant: str, filters: Filters, by: GroupBy, stale_after_days: int | None = None
    ) -> Report:
        days = stale_after_days or self.stale_after_days
        grouped = await self._grouped(tenant, filters, by)
        goals = await self.facts.goal_facts(tenant)
        rows = goal_attainment(grouped, goals, filters, self.clock(), timedelta(days=days))
        report = self._report(filters, by, rows)
        report["stale_after_days"] = days
        report["total"] = report["total"][0]
        return report

    async def check_in_participation(self, tenant: str, filters: Filters, by: GroupBy) -> Report:
        grouped = await self._grouped(tenant, filters, by)
        goals = await self.facts.goal_facts(tenant)
        check_ins = await self.facts.check_in_facts(tenant, filters.start, filters.end)
        report = self._report(
            filters, by, check_in_participation(grouped, goals, check_ins, filters)
        )
        report["total"] = report["total"][0]
        return report

    async def feedback_responses(self, tenant: str, filters: Filters, by: GroupBy) -> Report:
        grouped = await self._grouped(tenant, filters, by)
        requests, answers = await self.facts.request_facts(tenant, filters.start, filters.end)
        report = self._report(filters, by, feedback_responses(grouped, requests, answers, filters))
        report["total"] = report["total"][0]
        return report

    async def skill_averages(self, tenant: str, filters: Filters, by: GroupBy) -> Report:
        grouped = await self._grouped(tenant, filters, by)
        ratings = await self.facts.rating_facts(tenant, filters.start, filters.end)
        rows = skill_averages(grouped, ratings, filters, self.min_answers)
        report = self._report(filters, by, rows)
        report["min_answers"] = self.min_answers
        return report


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(columns: Sequence[str], rows: Iterable[dict[str, object]]) -> str:
    """The rows (then the total) as CSV, one column per field, header first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def report_rows(report: Report) -> list[dict[str, object]]:
    total = report["total"]
    return [*report["rows"], *(total if isinstance(total, list) else [total])]
