"""``/``: my goals by horizon with progress and flags, feedback waiting for me, unread items."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.web.client import Api, ApiProblem
from services.web.security import CurrentSession
from services.web.sessions import Session
from services.web.templating import ASK, ApiDep, page

router = APIRouter(include_in_schema=False)


async def _or_none(call: Any) -> Any:
    # one service away must not blank the whole dashboard: its panel says so instead
    try:
        return await call
    except ApiProblem:
        return None


async def _my_goals(api: Api, session: Session) -> list[dict[str, Any]] | None:
    found = await _or_none(
        api.get("goals", "/v1/goals", session, owner_id=session.person_id, limit=100)
    )
    if found is None:
        return None
    return [g for g in found["items"] if g["status"] in ("draft", "active")]


def review_due(goal: dict[str, Any], today: str) -> bool:
    """A review is pending (e.g. the manager changed) or the goal's cadence has come round."""
    next_review = goal.get("review_due_on") or goal.get("next_review_on")
    return bool(goal.get("review_pending")) or bool(next_review and next_review <= today)


@router.get("/")
async def dashboard(request: Request, session: CurrentSession, api: ApiDep) -> Response:
    goals, requests, inbox = await asyncio.gather(
        _my_goals(api, session),
        _or_none(
            api.get("feedback", "/v1/feedback-requests", session, assigned_to="me", status="open")
        ),
        _or_none(api.get("notifications", "/v1/inbox", session, unread="true", limit=5)),
    )
    today = date.today().isoformat()
    by_horizon: dict[str, list[dict[str, Any]]] = {"short_term": [], "long_term": []}
    for goal in goals or []:
        goal["review_due"] = review_due(goal, today)
        by_horizon[goal["horizon"]].append(goal)
    for horizon_goals in by_horizon.values():
        # what needs attention first: at risk, then due for review
        horizon_goals.sort(key=lambda g: (not g["at_risk"], not g["review_due"], g["title"]))
    context = {
        "goals_available": goals is not None,
        "short_term": by_horizon["short_term"],
        "long_term": by_horizon["long_term"],
        "feedback_requests": None if requests is None else requests["items"],
        "inbox": None if inbox is None else inbox["items"],
    }
    # the inbox answer counts the unread items too: the header's badge needs no call of its own
    unread = ASK if inbox is None else inbox.get("unread_count")
    return await page(
        request, "dashboard.html", context, session=session, title="Dashboard", unread=unread
    )
