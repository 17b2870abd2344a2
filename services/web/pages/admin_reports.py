"""HR admin: the reports of the people service (goal attainment, check-in participation,
feedback responses, skill averages) over a period and a population, each with its CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.web.client import ApiProblem
from services.web.pages.admin_people import _everyone
from services.web.security import HRSession, PageNotFound
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

REPORTS = ("goal-attainment", "check-in-participation", "feedback-responses", "skill-averages")
GROUPINGS = [
    ("department", "Department"),
    ("team", "Team (direct manager)"),
    ("manager", "Manager (everyone below)"),
]
FIELDS = ("from", "to", "group_by", "department", "team", "manager")
DEFAULT_DAYS = 30


def _date(value: str, name: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "Enter a date as YYYY-MM-DD."
        return None


def api_params(values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The form's values as the reports API's query (dates: whole days, ``to`` included),
    and the form's errors."""
    errors: dict[str, str] = {}
    start, end = _date(values["from"], "from", errors), _date(values["to"], "to", errors)
    if values["group_by"] not in {g for g, _ in GROUPINGS}:
        errors["group_by"] = "Choose a grouping."
    if start and end and start > end:
        errors["to"] = "The end date must not be before the start date."
    params = {"group_by": values["group_by"]}
    try:
        if start:
            params["from"] = datetime.combine(start, time(), UTC).isoformat()
        if end:
            params["to"] = datetime.combine(end + timedelta(days=1), time(), UTC).isoformat()
    except OverflowError:
        errors["to"] = "Enter a date before the year 9999."
    for name in ("department", "team", "manager"):
        if values[name]:
            params[name] = values[name]
    return params, errors


def _values(request: Request) -> dict[str, str]:
    query = request.query_params
    values = {name: query.get(name, "").strip()[:200] for name in FIELDS}
    if not values["group_by"]:
        values["group_by"] = "department"
    if not values["from"] and not values["to"]:
        today = datetime.now(UTC).date()
        values["from"] = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        values["to"] = today.isoformat()
    return values


@router.get("/admin/reports")
async def reports_page(request: Request, session: HRSession, api: ApiDep) -> Response:
    values = _values(request)
    params, errors = api_params(values)
    reports: dict[str, Any] = {}
    if not errors:
        try:
            for name in REPORTS:
                reports[name] = await api.get("people", f"/v1/reports/{name}", session, **params)
        except ApiProblem as problem:
            if problem.status >= 500 or problem.status in (401, 403):
                raise
            errors = {k: v for k, v in problem.fields.items() if k in FIELDS} or {
                "from": problem.detail
            }
            reports = {}
    people = await _everyone(api, session)
    managers = {p.get("manager_id") for p in people}
    context = {
        "values": values,
        "errors": errors,
        "reports": reports,
        "groupings": GROUPINGS,
        "managers": sorted(
            (p for p in people if p["id"] in managers),
            key=lambda p: (p.get("display_name") or p["user_name"]).casefold(),
        ),
        "query": urlencode({k: v for k, v in values.items() if v}),
    }
    return await page(
        request,
        "admin/reports.html",
        context,
        session=session,
        status_code=422 if errors else 200,
        title="Reports",
    )


@router.get("/admin/reports/{name}.csv")
async def report_csv(name: str, request: Request, session: HRSession, api: ApiDep) -> Response:
    if name not in REPORTS:
        raise PageNotFound()
    params, errors = api_params(_values(request))
    if errors:
        raise PageNotFound()
    try:
        answer = await api.download(
            "people", f"/v1/reports/{name}.csv?{urlencode(params)}", session
        )
    except ApiProblem as problem:
        if problem.status in (404, 422):
            raise PageNotFound() from problem
        raise
    return Response(
        answer.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
