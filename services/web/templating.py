"""Jinja2 pages: the layout's context (who, CSRF token, nav, unread badge) and error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.web.client import Api, ApiProblem
from services.web.sessions import Session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def percent(fraction: float | None) -> str:
    """Progress is a fraction in every API; pages show whole percents."""
    return f"{round((fraction or 0) * 100)} %"


def humanize(value: str | None) -> str:
    return (value or "").replace("_", " ").capitalize()


templates.env.filters["percent"] = percent
templates.env.filters["humanize"] = humanize
templates.env.globals["nav"] = [
    ("/", "Dashboard"),
    ("/goals/new", "New goal"),
    ("/feedback", "Feedback"),
    ("/skills", "Skills"),
    ("/growth", "Growth"),
    ("/reviews", "Reviews"),
    ("/team", "Team"),
    ("/inbox", "Inbox"),
]
templates.env.globals["hr_nav"] = [("/admin/people", "Admin")]


def get_api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


ApiDep = Annotated[Api, Depends(get_api)]


async def unread_count(api: Api, session: Session) -> int | None:
    try:
        counts = await api.get("notifications", "/v1/inbox/count", session)
    except ApiProblem:
        return None  # the badge waits for the live stream rather than failing the page
    return int(counts.get("unread", 0))


class Ask:
    """The page has not asked for the badge's count: ``page`` does."""


ASK = Ask()


async def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    session: Session | None = None,
    status_code: int = 200,
    title: str = "",
    unread: int | Ask | None = ASK,
) -> HTMLResponse:
    """A full page in the layout; ``session`` adds the header's person, nav and badge.

    ``unread``: the badge's count when the page already has it (the dashboard's inbox answer
    carries it, the goal page asks for it beside its own calls; None: not available), which
    spares a call to notifications made after the page's own.
    """
    values: dict[str, Any] = {"title": title, "session": session, "unread": None}
    if session is not None:
        values["csrf_token"] = session.csrf_token
        values["unread"] = (
            await unread_count(get_api(request), session) if isinstance(unread, Ask) else unread
        )
    values.update(context or {})
    return templates.TemplateResponse(request, template, values, status_code=status_code)


def fragment(request: Request, template: str, context: dict[str, Any]) -> str:
    """A partial rendered to text (SSE messages, htmx swaps)."""
    return templates.get_template(template).render({"request": request, **context})
