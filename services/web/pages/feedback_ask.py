"""``/feedback/ask``: ask mentors and colleagues for feedback about me (optionally on one of my
goals), or, as a manager, about one of my reports."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from services.web.client import Api, ApiProblem
from services.web.pages.feedback import RELATIONSHIPS
from services.web.people_view import SKILLS, display_name, person_or_none
from services.web.security import CurrentSession, PageNotFound
from services.web.sessions import Session
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

DUE_IN_DAYS = 14
FORM_FIELDS = ("reviewers", "skills", "goal_id", "question", "due_date", "min_responses")


async def _items(api: Api, session: Session, service: str, path: str, **params: Any) -> list[Any]:
    try:
        found = await api.get(service, path, session, **params)
    except ApiProblem:
        return []  # a list the asker may not read is just not offered
    return list(found.get("items", []))


async def candidates(api: Api, session: Session, subject_id: str) -> list[dict[str, Any]]:
    """Whom to ask, grouped as the org chart relates them to the subject (the relationship the
    request records); everyone else in the directory is offered as a peer."""
    mentors, chain, reports, everyone = await asyncio.gather(
        _items(api, session, "people", f"/v1/people/{subject_id}/mentors"),
        _items(api, session, "people", f"/v1/people/{subject_id}/chain"),
        _items(api, session, "people", f"/v1/people/{subject_id}/reports"),
        _items(api, session, "people", "/v1/people", active="true", limit=200),
    )
    groups = [
        ("mentor", "Mentors", mentors),
        ("manager", "Managers", chain[:1]),
        ("report", "Reports", reports),
        ("peer", "Colleagues", everyone),
    ]
    seen = {subject_id, session.person_id}  # nobody is asked about themselves or by themselves
    offered: list[dict[str, Any]] = []
    for relationship, heading, people in groups:
        group = []
        for person in people:
            if person["id"] in seen or not person.get("active", True):
                continue
            seen.add(person["id"])
            group.append(
                {"id": person["id"], "name": display_name(person), "title": person.get("title")}
            )
        if group:
            offered.append({"relationship": relationship, "heading": heading, "people": group})
    return offered


def _defaults(subject_id: str, goal_id: str) -> dict[str, Any]:
    return {
        "subject_id": subject_id,
        "goal_id": goal_id,
        "skill": list(SKILLS),
        "reviewer": [],
        "due_date": (date.today() + timedelta(days=DUE_IN_DAYS)).isoformat(),
        "anonymous": "",
        "min_responses": "",
        "question": "",
    }


def _values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"
    }
    values["skill"] = [v for v in form.getlist("skill") if isinstance(v, str)]
    values["reviewer"] = [v for v in form.getlist("reviewer") if isinstance(v, str)]
    return values


def request_body(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The feedback API's body from the form, and what is missing before asking it."""
    errors: dict[str, str] = {}
    reviewers = []
    for choice in values.get("reviewer", []):
        person_id, _, relationship = choice.rpartition("|")
        if person_id and relationship in RELATIONSHIPS:
            reviewers.append({"person_id": person_id, "relationship": relationship})
    if not reviewers:
        errors["reviewers"] = "Choose at least one person to ask."
    body: dict[str, Any] = {
        "subject_id": values.get("subject_id", ""),
        "reviewers": reviewers,
        "skills": values.get("skill", []),
        "due_date": values.get("due_date", ""),
        "anonymous": bool(values.get("anonymous")),
    }
    if values.get("goal_id"):
        body["goal_id"] = values["goal_id"]
    if question := str(values.get("question", "")).strip():
        body["questions"] = [question]
    if body["anonymous"] and str(values.get("min_responses", "")).strip():
        raw = str(values["min_responses"]).strip()
        if raw.isdigit():
            body["min_responses"] = int(raw)
        else:
            errors["min_responses"] = "Enter a whole number."
    return body, errors


def _api_errors(problem: ApiProblem) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, message in problem.fields.items():
        head = name.split(".", 1)[0]
        errors[{"skills": "skills", "questions": "question"}.get(head, head)] = message
    if not errors:
        # a domain refusal names its field first ("due_date must be within a year")
        first = problem.detail.split(" ", 1)[0]
        named = {"questions": "question"}.get(first, first)
        errors[named if named in FORM_FIELDS else ""] = problem.detail
    return errors


async def _goal_choices(
    api: Api, session: Session, subject_id: str, goals: list[dict[str, Any]], chosen: str
) -> list[dict[str, Any]]:
    """The subject's open goals, plus the goal the asker came from (its page's "Ask for feedback
    on this goal") when that one is achieved or beyond the first page, so it stays selected."""
    choices = [g for g in goals if g["status"] in ("draft", "active")]
    if chosen and all(g["id"] != chosen for g in choices):
        try:
            goal = await api.get("goals", f"/v1/goals/{chosen}", session)
        except ApiProblem:
            return choices  # unreadable or unknown: not offered; the API judges what is sent
        if goal.get("owner_id") == subject_id:
            choices.insert(0, goal)
    return choices


async def _form(
    request: Request,
    session: Session,
    api: Api,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    subject_id = values["subject_id"]
    subject = await person_or_none(api, session, subject_id)
    if subject is None:
        raise PageNotFound()
    offered, goals = await asyncio.gather(
        candidates(api, session, subject_id),
        _items(api, session, "goals", "/v1/goals", owner_id=subject_id, limit=100),
    )
    context = {
        "values": values,
        "errors": errors,
        "subject": subject,
        "subject_name": "you" if subject_id == session.person_id else display_name(subject),
        "about_me": subject_id == session.person_id,
        "offered": offered,
        "goals": await _goal_choices(api, session, subject_id, goals, values.get("goal_id", "")),
        "skills": SKILLS,
        "relationships": RELATIONSHIPS,
    }
    return await page(
        request,
        "feedback/ask.html",
        context,
        session=session,
        status_code=status_code,
        title="Ask for feedback",
    )


@router.get("/feedback/ask")
async def ask_form(
    request: Request,
    session: CurrentSession,
    api: ApiDep,
    subject_id: str = "",
    goal_id: str = "",
) -> Response:
    """The form: about me by default, about a report with ``?subject_id=``, on a goal."""
    values = _defaults(subject_id or session.person_id, goal_id)
    return await _form(request, session, api, values, {})


@router.post("/feedback/ask")
async def ask(request: Request, session: CurrentSession, api: ApiDep) -> Response:
    """Create the request and open it; a refusal keeps every choice and says why."""
    values = _values(await request.form())
    values.setdefault("subject_id", session.person_id)
    body, errors = request_body(values)
    if not errors:
        try:
            created = await api.post("feedback", "/v1/feedback-requests", session, body)
        except ApiProblem as problem:
            if problem.status >= 500:
                raise
            errors = _api_errors(problem)
        else:
            return RedirectResponse(f"/feedback/requests/{created['id']}", status_code=303)
    return await _form(request, session, api, values, errors, status_code=422)
