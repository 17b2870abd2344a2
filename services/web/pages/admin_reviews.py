"""HR pages of the career framework and review cycles: ladders, cycles, calibration, release."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web.client import Api, ApiProblem
from services.web.goal_forms import form_values
from services.web.pages.reviews import people_names
from services.web.security import HRSession, PageNotFound
from services.web.sessions import Session
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

STEPS = ("self_review", "peer_feedback", "manager_review", "calibration", "release")


def _errors(problem: ApiProblem) -> dict[str, str]:
    if problem.status >= 500 or problem.status in (403, 404):
        raise problem
    return dict(problem.fields) or {"": problem.detail}


# ---------------------------------------------------------------------- ladders


async def _ladders_page(
    request: Request,
    session: Session,
    api: Api,
    *,
    edited: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    found = await api.get("reviews", "/v1/ladders", session)
    context = {
        "ladders": found.get("items", []),
        "edited": edited,
        "values": values or {},
        "errors": errors or {},
        "saved": request.query_params.get("saved", ""),
    }
    return await page(
        request,
        "admin_reviews/ladders.html",
        context,
        session=session,
        status_code=status_code,
        title="Career ladders",
    )


@router.get("/admin/ladders")
async def ladders(request: Request, session: HRSession, api: ApiDep) -> Response:
    return await _ladders_page(request, session, api)


def ladder_body(
    ladder: dict[str, Any], values: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The edited expected levels over the ladder as read (names and titles unchanged)."""
    errors: dict[str, str] = {}
    levels = []
    for index, level in enumerate(ladder["levels"]):
        expectations: dict[str, Any] = {}
        for skill in ladder["skills"]:
            name = f"levels.{index}.expectations.{skill}"
            raw = values.get(name, "").strip()
            if raw.isdigit():
                expectations[skill] = int(raw)
            else:
                errors[name] = "enter a whole number from 1 to 5"
        levels.append(
            {
                "id": level["id"],
                "name": level["name"],
                "expectations": expectations,
                "titles": level["titles"],
            }
        )
    version = values.get("version", "")
    body = {"name": ladder["name"], "levels": levels}
    if version.isdigit():
        body["version"] = int(version)
    return body, errors


@router.post("/admin/ladders/{ladder_id}")
async def save_ladder(
    request: Request, ladder_id: str, session: HRSession, api: ApiDep
) -> Response:
    try:
        ladder = await api.get("reviews", f"/v1/ladders/{ladder_id}", session)
    except ApiProblem as problem:
        if problem.status in (404, 422):
            raise PageNotFound() from problem
        raise
    values = form_values(await request.form())
    body, errors = ladder_body(ladder, values)
    if not errors:
        try:
            await api.put("reviews", f"/v1/ladders/{ladder_id}", session, body)
            return RedirectResponse(f"/admin/ladders?saved={ladder_id}", status_code=303)
        except ApiProblem as problem:
            errors = _errors(problem)
    return await _ladders_page(
        request, session, api, edited=ladder_id, values=values, errors=errors, status_code=422
    )


# ---------------------------------------------------------------------- cycles


def _default_cycle_values() -> dict[str, str]:
    today = date.today()
    offsets = {
        "self_review": 14,
        "peer_feedback": 14,
        "manager_review": 28,
        "calibration": 35,
        "release": 42,
    }
    values = {
        "period_start": str(today - timedelta(days=180)),
        "period_end": str(today),
        "population.kind": "department",
    }
    values.update({f"deadlines.{k}": str(today + timedelta(days=d)) for k, d in offsets.items()})
    return values


@router.get("/admin/cycles")
async def cycles(request: Request, session: HRSession, api: ApiDep) -> Response:
    return await _cycles_page(request, session, api, values=_default_cycle_values(), errors={})


async def _cycles_page(
    request: Request,
    session: Session,
    api: Api,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    found = await api.get("reviews", "/v1/review-cycles", session)
    context = {"cycles": found.get("items", []), "values": values, "errors": errors, "steps": STEPS}
    return await page(
        request,
        "admin_reviews/cycles.html",
        context,
        session=session,
        status_code=status_code,
        title="Review cycles",
    )


def cycle_body(values: dict[str, str]) -> dict[str, Any]:
    kind = values.get("population.kind", "")
    population: dict[str, Any] = {"kind": kind}
    if kind != "everyone":
        population["value"] = values.get("population.value", "").strip() or None
    return {
        "name": values.get("name", "").strip(),
        "period_start": values.get("period_start") or None,
        "period_end": values.get("period_end") or None,
        "population": population,
        "deadlines": {step: values.get(f"deadlines.{step}") or None for step in STEPS},
    }


def population_errors(errors: dict[str, str]) -> dict[str, str]:
    """The API names a population problem by the union's branch (``population.department.value``)
    or the whole object: the form has one input for it, the value's."""
    shown = {k: v for k, v in errors.items() if not k.startswith("population")}
    for key, message in errors.items():
        if key.startswith("population"):
            shown.setdefault("population.value", message)
    return shown


@router.post("/admin/cycles")
async def create_cycle(request: Request, session: HRSession, api: ApiDep) -> Response:
    values = form_values(await request.form())
    try:
        cycle = await api.post("reviews", "/v1/review-cycles", session, cycle_body(values))
    except ApiProblem as problem:
        errors = population_errors(_errors(problem))
        return await _cycles_page(
            request, session, api, values=values, errors=errors, status_code=422
        )
    return RedirectResponse(f"/admin/cycles/{cycle['id']}", status_code=303)


async def _cycle_or_404(api: Api, session: Session, cycle_id: str) -> dict[str, Any]:
    try:
        cycle: dict[str, Any] = await api.get("reviews", f"/v1/review-cycles/{cycle_id}", session)
    except ApiProblem as problem:
        if problem.status in (404, 422):
            raise PageNotFound() from problem
        raise
    return cycle


def distribution_chart(calibration: dict[str, Any]) -> dict[str, Any]:
    labels = [str(r) for r in range(1, int(calibration["scale"]) + 1)]
    return {"labels": labels, "counts": [calibration["overall"].get(r, 0) for r in labels]}


@router.get("/admin/cycles/{cycle_id}")
async def cycle_page(request: Request, cycle_id: str, session: HRSession, api: ApiDep) -> Response:
    return await _cycle_page(request, session, api, await _cycle_or_404(api, session, cycle_id))


async def _cycle_page(
    request: Request,
    session: Session,
    api: Api,
    cycle: dict[str, Any],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    form: str = "",
    status_code: int = 200,
) -> Response:
    calibration = await api.get("reviews", f"/v1/review-cycles/{cycle['id']}/calibration", session)
    context = {
        "cycle": cycle,
        "calibration": calibration,
        "chart": distribution_chart(calibration),
        "names": await people_names(api, session),
        "values": values or {},
        "errors": errors or {},
        "form": form,
        "released": request.query_params.get("released"),
    }
    return await page(
        request,
        "admin_reviews/cycle.html",
        context,
        session=session,
        status_code=status_code,
        title=cycle["name"],
    )


@router.post("/admin/cycles/{cycle_id}/{action}")
async def cycle_action(
    request: Request, cycle_id: str, action: str, session: HRSession, api: ApiDep
) -> Response:
    """Launch, close calibration or release (one button each)."""
    if action not in ("launch", "close-calibration", "release"):
        raise PageNotFound()
    cycle = await _cycle_or_404(api, session, cycle_id)
    try:
        result = await api.post("reviews", f"/v1/review-cycles/{cycle_id}/{action}", session)
    except ApiProblem as problem:
        errors = _errors(problem)
        return await _cycle_page(
            request, session, api, cycle, errors=errors, form=action, status_code=422
        )
    suffix = f"?released={result['released']}" if action == "release" else ""
    return RedirectResponse(f"/admin/cycles/{cycle_id}{suffix}", status_code=303)


@router.post("/admin/cycles/{cycle_id}/reviews/{review_id}/calibrate")
async def calibrate(
    request: Request, cycle_id: str, review_id: str, session: HRSession, api: ApiDep
) -> Response:
    cycle = await _cycle_or_404(api, session, cycle_id)
    values = form_values(await request.form())
    rating = values.get("rating", "").strip()
    errors: dict[str, str] = {}
    if not rating.isdigit():
        errors["rating"] = "choose the new rating"
    if not errors:
        body = {"rating": int(rating), "reason": values.get("reason", "").strip()}
        try:
            await api.post("reviews", f"/v1/reviews/{review_id}/calibration", session, body)
            return RedirectResponse(f"/admin/cycles/{cycle_id}", status_code=303)
        except ApiProblem as problem:
            errors = _errors(problem)
    return await _cycle_page(
        request,
        session,
        api,
        cycle,
        values=values,
        errors=errors,
        form=f"calibrate-{review_id}",
        status_code=422,
    )


@router.get("/admin/cycles/{cycle_id}/export.csv")
async def export(cycle_id: str, session: HRSession, api: ApiDep) -> Response:
    try:
        answer = await api.download("reviews", f"/v1/review-cycles/{cycle_id}/export.csv", session)
    except ApiProblem as problem:
        if problem.status in (404, 422):
            raise PageNotFound() from problem
        raise
    return Response(
        answer.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="cycle-{cycle_id}.csv"'},
    )
