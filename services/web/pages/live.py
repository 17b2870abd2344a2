"""Server-Sent Events for the live parts (htmx SSE extension): the unread badge, an open goal.

The badge proxies notifications' ``GET /v1/inbox/stream`` (web never reads another service's
database); an open goal is watched through the goals API and re-rendered when its version moves.
Each message is an HTML fragment named by its event, which htmx swaps in (``sse-swap``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from services.web.client import Api, ApiProblem
from services.web.pages.goals import goal_live_context, goal_or_404
from services.web.security import CurrentSession
from services.web.sessions import Session
from services.web.templating import ApiDep, fragment, unread_count

router = APIRouter(include_in_schema=False)

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def sse(event: str, html: str) -> bytes:
    """One SSE message; every line of a multi-line fragment gets its own ``data:``."""
    data = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {event}\n{data}\n".encode()


def badge(request: Request, unread: int | None) -> bytes:
    return sse("badge", fragment(request, "partials/badge.html", {"unread": unread}))


async def _inbox_events(request: Request, api: Api, session: Session) -> AsyncIterator[bytes]:
    yield badge(request, await unread_count(api, session))
    last_id: str | None = None  # of the last item passed on: a new upstream resumes after it
    while True:
        try:
            async with api.stream(
                "notifications", "/v1/inbox/stream", session, last_event_id=last_id
            ) as upstream:
                if upstream.status_code != 200:
                    raise ApiProblem(upstream.status_code, "the inbox stream was refused")
                event = ""
                async for line in upstream.aiter_lines():
                    if line.startswith("event:"):
                        event = line.removeprefix("event:").strip()
                    elif line.startswith("id:"):
                        last_id = line.removeprefix("id:").strip() or last_id
                    elif line.startswith("data:") and event == "notification":
                        item = json.loads(line.removeprefix("data:").strip())
                        yield sse(
                            "notification",
                            fragment(request, "partials/inbox_item.html", {"item": item}),
                        )
                        yield badge(request, await unread_count(api, session))
                    elif line.startswith(":"):
                        yield b": keep-alive\n\n"
                    elif not line:
                        event = ""
            # the upstream ended at its lifetime: resume soon (nothing is missed, see last_id)
            pause = 1.0
        except (httpx.HTTPError, ApiProblem):
            # notifications is away or refused: come back after a longer pause
            pause = 5.0
        yield b": reconnecting\n\n"
        await asyncio.sleep(pause)


@router.get("/live/inbox")
async def inbox_stream(request: Request, session: CurrentSession, api: ApiDep) -> StreamingResponse:
    """``badge`` (the unread count) and ``notification`` (a new inbox item) events."""
    return StreamingResponse(
        _inbox_events(request, api, session), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def _goal_events(
    request: Request, api: Api, session: Session, goal_id: str, version: int
) -> AsyncIterator[bytes]:
    settings = api.settings
    quiet = 0.0
    while True:
        try:
            current = await api.get("goals", f"/v1/goals/{goal_id}", session)
        except ApiProblem:
            current = None  # goals is away: keep watching, the page keeps what it shows
        if current is not None and current["version"] != version:
            version = current["version"]
            context = await goal_live_context(api, session, current)
            yield sse("goal", fragment(request, "partials/goal_live.html", context))
            quiet = 0.0
        else:
            quiet += settings.live_poll_interval_s
            if quiet >= settings.live_keepalive_s:
                quiet = 0.0
                yield b": keep-alive\n\n"
        await asyncio.sleep(settings.live_poll_interval_s)


@router.get("/live/goals/{goal_id}")
async def goal_stream(
    request: Request, goal_id: str, session: CurrentSession, api: ApiDep, version: int = -1
) -> StreamingResponse:
    """A ``goal`` event with the goal's progress, key results, chart and timeline on each change.

    ``version`` is the one the page was rendered with: a change between the page and this
    connection is pushed at once rather than missed.
    """
    goal = await goal_or_404(api, session, goal_id)
    return StreamingResponse(
        _goal_events(request, api, session, goal["id"], version),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
