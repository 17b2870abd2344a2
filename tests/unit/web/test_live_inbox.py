"""The badge's live stream proxies notifications' inbox stream, resumed after the last item."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from starlette.requests import Request

from services.web.pages import live
from services.web.sessions import Session
from tests.unit.web.fakes import web_app

SESSION = Session("s-1", "acme", "ana", frozenset({"employee"}), "csrf", datetime.now(UTC))


def item_lines(item_id: str) -> list[str]:
    body = {"id": item_id, "title": f"title {item_id}", "summary": "", "read": False}
    return ["event: notification", f"id: {item_id}", f"data: {json.dumps(body)}", ""]


class Upstreams:
    """notifications' stream as a proxy sees it: each connection sends its lines and ends."""

    def __init__(self, *connections: list[str]) -> None:
        self.connections = list(connections)
        self.resumed_after: list[str | None] = []  # the Last-Event-ID of each connection

    async def get(self, service: str, path: str, session: Session, **_: object) -> object:
        return {"unread": 1}

    @asynccontextmanager
    async def stream(
        self, service: str, path: str, session: Session, *, last_event_id: str | None = None
    ) -> AsyncIterator[httpx.Response]:
        self.resumed_after.append(last_event_id)
        lines = self.connections.pop(0) if self.connections else []
        yield httpx.Response(200, content="".join(f"{line}\n" for line in lines).encode())


async def test_a_new_upstream_resumes_after_the_last_item_passed_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, _, _ = web_app()
    request = Request({"type": "http", "app": app, "headers": [], "method": "GET", "path": "/"})
    upstreams = Upstreams(
        [": keep-alive", "", *item_lines("n1"), *item_lines("n2")],  # ends at its lifetime
        [*item_lines("n3")],
        [],
    )
    pauses: list[float] = []

    async def no_wait(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", no_wait)  # the pauses between connections
    events = live._inbox_events(request, upstreams, SESSION)  # type: ignore[arg-type]
    shown: list[str] = []
    async for chunk in events:
        text = chunk.decode()
        if text.startswith("event: notification"):
            shown.append(text.split('id="inbox-')[1].split('"')[0])
        if len(upstreams.resumed_after) == 3:
            break
    assert shown == ["n1", "n2", "n3"]
    assert upstreams.resumed_after == [None, "n2", "n3"]
    assert pauses == [1.0, 1.0]  # a stream that ended is resumed soon, not after the outage pause
