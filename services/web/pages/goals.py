"""Goal pages: create (from a template or blank), the goal with its live progress, edit."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web.client import Api, ApiProblem
from services.web.goal_forms import (
    KR_ROWS,
    form_errors,
    form_values,
    goal_body,
    goal_values,
    kr_rows,
)
from services.web.security import CurrentSession, PageNotFound
from services.web.sessions import Session
from services.web.templating import ApiDep, page, unread_count

router = APIRouter(include_in_schema=False)

STATUS_ACTIONS = {
    "draft": [("active", "Start working on it")],
    "active": [("achieved", "Mark achieved"), ("abandoned", "Abandon")],
    "achieved": [("active", "Reopen")],
    "abandoned": [("active", "Reopen")],
}
MILESTONES = (0.25, 0.5, 0.75, 1.0)
TIMELINE_PAGES = 10  # up to 2,000 entries for the chart
TIMELINE_SHOWN = 50  # the latest entries listed under it


async def _templates(api: Api, session: Session) -> list[dict[str, Any]]:
    found = await api.get("goals", "/v1/goal-templates", session)
    return list(found.get("items", []))


async def _form_page(
    request: Request,
    session: Session,
    api: Api,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    goal: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "values": values,
        "errors": errors,
        "goal": goal,
        "templates": await _templates(api, session) if goal is None else [],
        "kr_rows": max(kr_rows(values), KR_ROWS if goal is None else 1),
    }
    title = f"Edit “{goal['title']}”" if goal else "New goal"
    return await page(
        request, "goal_form.html", context, session=session, status_code=status_code, title=title
    )


@router.get("/goals/new")
async def new_goal(
    request: Request, session: CurrentSession, api: ApiDep, template: str = ""
) -> Response:
    values: dict[str, str] = {"status": "active", "visibility": "team", "template_id": template}
    return await _form_page(request, session, api, values=values, errors={})


@router.post("/goals/new")
async def create_goal(request: Request, session: CurrentSession, api: ApiDep) -> Response:
    values = form_values(await request.form())
    body, errors = goal_body(values, creating=True)
    if not errors:
        try:
            goal = await api.post("goals", "/v1/goals", session, body)
            return RedirectResponse(f"/goals/{goal['id']}", status_code=303)
        except ApiProblem as problem:
            errors = _errors_of(problem)
    return await _form_page(request, session, api, values=values, errors=errors, status_code=422)


def _errors_of(problem: ApiProblem) -> dict[str, str]:
    if problem.status >= 500:
        raise problem
    return form_errors(problem.fields) or {"": problem.detail}


async def goal_or_404(api: Api, session: Session, goal_id: str) -> dict[str, Any]:
    try:
        goal: dict[str, Any] = await api.get("goals", f"/v1/goals/{goal_id}", session)
    except ApiProblem as problem:
        if problem.status in (403, 404, 422):
            raise PageNotFound() from problem
        raise
    return goal


def _milestones_between(old: float, new: float, reached: list[str]) -> list[float]:
    return [m for m in MILESTONES if old < m <= new and str(m) in reached]


def timeline_view(goal: dict[str, Any], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Timeline entries with their cause in words and the milestones each change reached."""
    reached = list(goal.get("milestones_reached", []))
    titles = {kr["id"]: kr["title"] for kr in goal.get("key_results", [])}
    view = []
    for entry in entries:
        item = {"at": entry["at"], "kind": entry["kind"], "text": "", "milestones": []}
        if entry["kind"] == "progress":
            cause = entry.get("cause") or {}
            old, new = entry.get("old_progress", 0.0), entry.get("new_progress", 0.0)
            item["progress"], item["old"] = new, old
            if cause.get("kind") == "kpi":
                item["text"] = (
                    f"KPI {cause.get('metric')} = {entry.get('value', '?'):g} "
                    f"from source {cause.get('source_id')}"
                    if isinstance(entry.get("value"), int | float)
                    else f"KPI {cause.get('metric')} from source {cause.get('source_id')}"
                )
            elif cause.get("kind") == "check_in":
                item["text"] = "Check-in"
            else:
                item["text"] = "Key results changed"
            item["milestones"] = _milestones_between(old, new, reached)
        elif entry["kind"] == "check_in":
            values = entry.get("values") or {}
            moved = ", ".join(f"{titles.get(k, k)} → {v:g}" for k, v in values.items())
            item["text"] = "Check-in" + (f": {moved}" if moved else "")
            if entry.get("note"):
                item["text"] += f" — “{entry['note']}”"
        elif entry["kind"] == "status":
            item["text"] = f"Status: {entry.get('from')} → {entry.get('to')}"
        elif entry["kind"] == "review":
            reason = str(entry.get("reason") or "").replace("_", " ")
            item["text"] = (
                "Review done" if entry.get("state") == "done" else f"Review due: {reason}"
            )
        else:
            item["text"] = entry["kind"].replace("_", " ").capitalize()
        view.append(item)
    return view


def chart_points(goal: dict[str, Any], timeline: list[dict[str, Any]]) -> dict[str, Any]:
    """The chart's data: progress over time, each point labelled with its cause."""
    changes = [item for item in timeline if "progress" in item]
    first = {
        "at": str(goal["created_at"]),
        "progress": round(changes[0]["old"] * 100, 1)
        if changes
        else round(goal["progress"] * 100, 1),
        "cause": "Goal created",
        "milestone": False,
    }
    points = [first] + [
        {
            "at": item["at"],
            "progress": round(item["progress"] * 100, 1),
            "cause": item["text"],
            "milestone": bool(item["milestones"]),
        }
        for item in changes
    ]
    return {"points": points, "title": goal["title"]}


async def goal_live_context(api: Api, session: Session, goal: dict[str, Any]) -> dict[str, Any]:
    """What the live part of the goal page shows (rendered at load and on every change)."""
    entries: list[dict[str, Any]] = []
    cursor = None
    # the API lists oldest first: follow its pages (bounded) so the newest changes are shown
    for _ in range(TIMELINE_PAGES):
        found = await api.get(
            "goals", f"/v1/goals/{goal['id']}/timeline", session, limit=200, cursor=cursor
        )
        entries.extend(found.get("items", []))
        cursor = found.get("next_cursor")
        if not cursor:
            break
    timeline = timeline_view(goal, entries)
    return {
        "goal": goal,
        "timeline": timeline[-TIMELINE_SHOWN:],
        "chart": chart_points(goal, timeline),
    }


@router.get("/goals/{goal_id}")
async def goal_page(
    request: Request, goal_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    goal = await goal_or_404(api, session, goal_id)
    return await _goal_page(request, session, api, goal, values={}, errors={})


async def _false() -> bool:
    return False


async def _manages(api: Api, session: Session, person_id: str) -> bool:
    """Whether the signed-in person is in ``person_id``'s management chain."""
    try:
        chain = await api.get("people", f"/v1/people/{person_id}/chain", session)
    except ApiProblem:
        return False  # not offering the action is the safe answer when people is away
    return any(p.get("id") == session.person_id for p in chain.get("items", []))


def _ask_url(goal: dict[str, Any]) -> str:
    """The feedback ask page about the goal's owner with this goal preselected."""
    query = urlencode({"subject_id": goal["owner_id"], "goal_id": goal["id"]})
    return f"/feedback/ask?{query}"


async def _goal_page(
    request: Request,
    session: Session,
    api: Api,
    goal: dict[str, Any],
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    is_owner = goal["owner_id"] == session.person_id
    tree, live, manages, unread = await asyncio.gather(
        api.get("goals", f"/v1/goals/{goal['id']}/tree", session),
        goal_live_context(api, session, goal),
        # the owner asks about themselves; only their managers may ask about them on it
        _manages(api, session, goal["owner_id"]) if not is_owner else _false(),
        unread_count(api, session),  # the header's badge, beside the page's own calls
    )
    context = {
        **live,
        "parents": tree.get("ancestors", []),
        "children": [c["goal"] for c in tree.get("tree", {}).get("children", [])],
        "is_owner": is_owner,
        "ask_feedback_url": _ask_url(goal) if is_owner or manages else None,
        "actions": STATUS_ACTIONS.get(goal["status"], []),
        "manual_krs": [kr for kr in goal["key_results"] if kr["source"] == "manual"],
        "values": values,
        "errors": errors,
    }
    return await page(
        request,
        "goal.html",
        context,
        session=session,
        status_code=status_code,
        title=goal["title"],
        unread=unread,
    )


@router.post("/goals/{goal_id}/check-ins")
async def check_in(
    request: Request, goal_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    goal = await goal_or_404(api, session, goal_id)
    values = form_values(await request.form())
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}
    moved: dict[str, float] = {}
    for kr in goal["key_results"]:
        raw = values.get(f"key_results.{kr['id']}", "").strip()
        if raw:
            try:
                moved[kr["id"]] = float(raw)
            except ValueError:
                errors[f"key_results.{kr['id']}"] = "enter a number"
    if moved:
        body["key_results"] = moved
    if values.get("note", "").strip():
        body["note"] = values["note"].strip()
    if values.get("confidence", "").strip():
        try:
            body["confidence"] = float(values["confidence"]) / 100
        except ValueError:
            errors["confidence"] = "enter a percentage"
    if not errors:
        try:
            await api.post("goals", f"/v1/goals/{goal_id}/check-ins", session, body)
            return RedirectResponse(f"/goals/{goal_id}", status_code=303)
        except ApiProblem as problem:
            errors = _errors_of(problem)
            if "confidence" in errors:
                errors["confidence"] = "enter a percentage from 0 to 100"
    return await _goal_page(
        request, session, api, goal, values=values, errors=errors, status_code=422
    )


@router.post("/goals/{goal_id}/status")
async def change_status(
    request: Request, goal_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    form = await request.form()
    status = str(form.get("status", ""))
    try:
        await api.post("goals", f"/v1/goals/{goal_id}/status", session, {"status": status})
    except ApiProblem as problem:
        if problem.status in (403, 404):
            raise
        goal = await goal_or_404(api, session, goal_id)
        return await _goal_page(
            request,
            session,
            api,
            goal,
            values={},
            errors={"status": problem.detail},
            status_code=422,
        )
    return RedirectResponse(f"/goals/{goal_id}", status_code=303)


@router.get("/goals/{goal_id}/edit")
async def edit_goal(
    request: Request, goal_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    goal = await goal_or_404(api, session, goal_id)
    values = goal_values(goal)
    return await _form_page(request, session, api, values=values, errors={}, goal=goal)


@router.post("/goals/{goal_id}/edit")
async def save_goal(
    request: Request, goal_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    goal = await goal_or_404(api, session, goal_id)
    values = form_values(await request.form())
    body, errors = goal_body(values, creating=False)
    if not errors:
        try:
            await api.patch("goals", f"/v1/goals/{goal_id}", session, body)
            return RedirectResponse(f"/goals/{goal_id}", status_code=303)
        except ApiProblem as problem:
            if problem.status in (403, 404):
                raise
            errors = _errors_of(problem)
    return await _form_page(
        request, session, api, values=values, errors=errors, goal=goal, status_code=422
    )
