"""``/inbox``: my notifications, newest first; new ones appear live; mark one or all read."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.web.client import Api, ApiProblem
from services.web.security import CurrentSession
from services.web.sessions import Session
from services.web.templating import ApiDep, fragment, page, unread_count

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 30
# what a notification's category looks like in the list (the celebration is the point)
CATEGORY_LABELS = {
    "celebration": "Celebration",
    "review_due": "Review due",
    "at_risk": "At risk",
    "feedback_requested": "Feedback requested",
    "feedback_received": "Feedback received",
    "kpi_alert": "KPI alert",
    "welcome": "Welcome",
    "mentorship": "Mentorship",
}


async def _list_context(
    api: Api, session: Session, *, unread_only: bool, cursor: str | None
) -> dict[str, Any]:
    found = await api.get(
        "notifications",
        "/v1/inbox",
        session,
        unread="true" if unread_only else None,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    return {
        "items": found["items"],
        "next_cursor": found.get("next_cursor"),
        "unread_count": found.get("unread_count", 0),
        "unread_only": unread_only,
        "cursor": cursor,
        # the live refresh fetches the page it shows (an older page stays that page)
        "list_query": urlencode(
            ({"unread": "true"} if unread_only else {}) | ({"cursor": cursor} if cursor else {})
        ),
        "labels": CATEGORY_LABELS,
    }


@router.get("/inbox")
async def inbox(
    request: Request,
    session: CurrentSession,
    api: ApiDep,
    unread: bool = False,
    cursor: str | None = None,
) -> Response:
    """The inbox page; opening it marks every item seen (not read)."""
    context = await _list_context(api, session, unread_only=unread, cursor=cursor)
    try:
        await api.post("notifications", "/v1/inbox/seen", session)
    except ApiProblem:
        pass  # seen is a nicety: the page still shows
    return await page(request, "inbox/inbox.html", context, session=session, title="Inbox")


@router.get("/inbox/list")
async def inbox_list(
    request: Request,
    session: CurrentSession,
    api: ApiDep,
    unread: bool = False,
    cursor: str | None = None,
) -> HTMLResponse:
    """The list alone: htmx fetches it again when the live stream announces a new item."""
    context = await _list_context(api, session, unread_only=unread, cursor=cursor)
    context["csrf_token"] = session.csrf_token
    return HTMLResponse(fragment(request, "inbox/_list.html", context))


@router.post("/inbox/read-all")
async def read_all(session: CurrentSession, api: ApiDep) -> Response:
    """Mark every item read."""
    await api.post("notifications", "/v1/inbox/read-all", session)
    return RedirectResponse("/inbox", status_code=303)


@router.post("/inbox/{item_id}/read")
async def read_one(
    request: Request, item_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    """Mark one item read: htmx swaps the item and the badge, a plain form reloads the inbox."""
    item = await api.post("notifications", f"/v1/inbox/{item_id}/read", session)
    if not request.headers.get("hx-request"):
        return RedirectResponse("/inbox", status_code=303)
    context = {
        "item": item,
        "labels": CATEGORY_LABELS,
        "csrf_token": session.csrf_token,
        "unread": await unread_count(api, session),
        "oob_badge": True,
    }
    return HTMLResponse(fragment(request, "inbox/_item.html", context))
