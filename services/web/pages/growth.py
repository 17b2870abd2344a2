"""Growth: my level on the career ladder, the target I pick, my gaps per skill, suggested goals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web.client import Api, ApiProblem
from services.web.goal_forms import form_values
from services.web.security import CurrentSession
from services.web.sessions import Session
from services.web.templating import ApiDep, humanize, page

router = APIRouter(include_in_schema=False)


async def goal_template_titles(api: Api, session: Session) -> dict[str, str]:
    """Template id → title (the gap analysis names templates by id)."""
    try:
        found = await api.get("goals", "/v1/goal-templates", session)
    except ApiProblem:
        return {}  # the ids still link to /goals/new
    return {t["id"]: t["title"] for t in found.get("items", [])}


def gap_chart(gaps: dict[str, Any]) -> dict[str, Any]:
    """The chart's data: expected at the target vs observed evidence, per skill."""
    return {
        "labels": [humanize(s["skill"]) for s in gaps["skills"]],
        "expected": [s["expected"] for s in gaps["skills"]],
        "observed": [s["observed"] for s in gaps["skills"]],
    }


async def _growth_page(
    request: Request,
    session: Session,
    api: Api,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    career = await api.get("reviews", "/v1/people/me/career", session)
    gaps = await api.get("reviews", "/v1/people/me/gaps", session)
    ladder = await api.get("reviews", f"/v1/ladders/{career['ladder_id']}", session)
    levels = {lv["id"]: lv["name"] for lv in ladder["levels"]}
    context = {
        "career": career,
        "gaps": gaps,
        "ladder": ladder,
        "levels": levels,
        "chart": gap_chart(gaps),
        "templates": await goal_template_titles(api, session),
        "values": values or {"level": career.get("target_level") or ""},
        "errors": errors or {},
    }
    return await page(
        request,
        "growth/growth.html",
        context,
        session=session,
        status_code=status_code,
        title="Growth",
    )


@router.get("/growth")
async def growth(request: Request, session: CurrentSession, api: ApiDep) -> Response:
    return await _growth_page(request, session, api)


@router.post("/growth/target")
async def set_target(request: Request, session: CurrentSession, api: ApiDep) -> Response:
    values = form_values(await request.form())
    level = values.get("level", "").strip() or None
    try:
        await api.put("reviews", "/v1/people/me/career/target", session, {"level": level})
    except ApiProblem as problem:
        if problem.status >= 500:
            raise
        errors = {"level": problem.fields.get("level") or problem.detail}
        return await _growth_page(
            request, session, api, values=values, errors=errors, status_code=422
        )
    return RedirectResponse("/growth", status_code=303)
