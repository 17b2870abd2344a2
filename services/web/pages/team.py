"""``/team``: a manager's reports and their goals, at-risk and review-due first, with a way to
ask for feedback on each; ``/people/{id}``: a person's profile, the goals I may see of theirs and
their skill summary when I may read it."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.web.client import Api, ApiProblem
from services.web.pages.skills import skill_rows
from services.web.people_view import display_name, names
from services.web.security import CurrentSession
from services.web.sessions import Session
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

OPEN_STATUSES = ("draft", "active")


def attention_first(goals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At risk, then due for review, then the least advanced (the services decide the flags)."""
    for goal in goals:
        goal["review_due"] = bool(goal.get("review_pending"))
    return sorted(
        goals,
        key=lambda g: (not g.get("at_risk"), not g["review_due"], g.get("progress", 0), g["title"]),
    )


async def goals_of(api: Api, session: Session, owner_id: str) -> list[dict[str, Any]] | None:
    """The open goals of a person that I may see; None when the goals service refuses."""
    try:
        found = await api.get("goals", "/v1/goals", session, owner_id=owner_id, limit=100)
    except ApiProblem:
        return None
    return [g for g in found["items"] if g["status"] in OPEN_STATUSES]


@router.get("/team")
async def team(request: Request, session: CurrentSession, api: ApiDep) -> Response:
    """My direct reports with their goals; the goals needing attention come first."""
    found = await api.get("people", f"/v1/people/{session.person_id}/reports", session)
    reports = [p for p in found["items"] if p.get("active", True)]
    all_goals = await asyncio.gather(*(goals_of(api, session, p["id"]) for p in reports))
    members = []
    for person, goals in zip(reports, all_goals, strict=True):
        ordered = attention_first(goals or [])
        members.append(
            {
                "person": person,
                "name": display_name(person),
                "goals": ordered,
                "goals_available": goals is not None,
                "at_risk": sum(1 for g in ordered if g.get("at_risk")),
                "review_due": sum(1 for g in ordered if g["review_due"]),
            }
        )
    # the people whose goals need attention first
    members.sort(key=lambda m: (-m["at_risk"], -m["review_due"], m["name"]))
    context = {"members": members}
    return await page(request, "team/team.html", context, session=session, title="Your team")


async def _skills(api: Api, session: Session, person_id: str) -> list[dict[str, Any]] | None:
    today = date.today()
    try:
        summary = await api.get(
            "feedback",
            f"/v1/people/{person_id}/feedback-summary",
            session,
            **{"from": (today - timedelta(days=89)).isoformat(), "to": today.isoformat()},
        )
    except ApiProblem:
        return None  # feedback is for the person, their managers, HR and mentors they allow
    return skill_rows(summary)


@router.get("/people/{person_id}")
async def person_page(
    request: Request, person_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    """A profile; another tenant's person answers 404 from the people API (the 404 page)."""
    person = await api.get("people", f"/v1/people/{person_id}", session)
    goals, skills = await asyncio.gather(
        goals_of(api, session, person_id), _skills(api, session, person_id)
    )
    people = await names(api, session, [person.get("manager_id")])
    try:
        chain = await api.get("people", f"/v1/people/{person_id}/chain", session)
        manages = any(p["id"] == session.person_id for p in chain["items"])
    except ApiProblem:
        manages = False
    context = {
        "person": person,
        "name": display_name(person),
        "manager_name": people.get(person.get("manager_id") or ""),
        "goals": attention_first(goals) if goals is not None else None,
        "skills": skills,
        "rated": bool(skills and any(s["count"] for s in skills)),
        "is_me": person_id == session.person_id,
        "manages": manages,
    }
    return await page(
        request, "team/person.html", context, session=session, title=display_name(person)
    )
