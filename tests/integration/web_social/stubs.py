"""The other services' APIs as canned answers, for page tests of the web app (no servers)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.web.config import WebSettings
from services.web.main import create_app
from services.web.sessions import Identity, Session, SessionStore
from tests.support import isolated_settings, running

Answer = tuple[int, Any] | Callable[[httpx.Request], tuple[int, Any]]


@dataclass
class StubApis:
    """``answers[("GET", "/v1/inbox")] = (200, {...})``; every request is kept in ``calls``."""

    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)
    calls: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, answer: Answer) -> None:
        self.answers[(method, path)] = answer

    def sent(self, method: str, path: str) -> list[Any]:
        """The JSON bodies sent to one route, in order."""
        return [
            json.loads(r.content or b"null")
            for r in self.calls
            if r.method == method and r.url.path == path
        ]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        answer = self.answers.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(
                404,
                json={
                    "type": "/problems/not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": f"no stub for {request.method} {request.url.path}",
                },
            )
        status, body = answer(request) if callable(answer) else answer
        return httpx.Response(status, json=body)


@dataclass
class Browser:
    """An HTTP client into the web app with a signed-in session's cookie."""

    client: httpx.AsyncClient
    session: Session
    apis: StubApis

    @property
    def csrf(self) -> dict[str, str]:
        return {"csrf_token": self.session.csrf_token}


@asynccontextmanager
async def web_app(person_id: str = "ada") -> AsyncIterator[Browser]:
    """The web app signed in as ``person_id``; its API calls go to the stubs."""
    apis = StubApis()
    settings = isolated_settings(WebSettings)
    app = create_app(settings, api_transport=httpx.MockTransport(apis.handle))
    async with running(app) as client:
        store: SessionStore = app.state.sessions
        session = await store.open(
            Identity(tenant="acme", person_id=person_id, roles=["employee"], name="Ada")
        )
        client.cookies.set(settings.session_cookie, session.id)
        yield Browser(client, session, apis)


def reset(browser: Browser) -> None:
    """Forget the previous test's answers and calls; the header's badge always answers."""
    browser.apis.answers.clear()
    browser.apis.calls.clear()
    browser.apis.on("GET", "/v1/inbox/count", (200, {"unread": 2, "unseen": 1}))


def person(person_id: str, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": person_id,
        "user_name": f"{person_id}@acme.test",
        "display_name": name,
        "active": True,
        **fields,
    }


def item(
    item_id: str, category: str, title: str, page: str, *, read: bool = False
) -> dict[str, Any]:
    return {
        "id": item_id,
        "event_id": f"e-{item_id}",
        "event_type": "northstar.goal.milestone_reached.v1",
        "category": category,
        "title": title,
        "summary": "It moved.",
        "data": {},
        "page": page,
        "created_at": "2026-03-10T08:00:00Z",
        "seen": False,
        "read": read,
        "archived": False,
        "seen_at": None,
        "read_at": None,
        "archived_at": None,
    }


def feedback_request(**fields: Any) -> dict[str, Any]:
    return {
        "id": "r1",
        "kind": "self",
        "subject_id": "bob",
        "requester_id": "bob",
        "skills": SIX,
        "questions": [],
        "goal_id": None,
        "due_date": "2099-01-31",
        "expires_at": "2099-02-01T00:00:00Z",
        "anonymous": False,
        "min_responses": 1,
        "status": "open",
        "created_at": "2026-03-10T08:00:00Z",
        **fields,
    }


SIX = [
    "communication",
    "data_analysis",
    "leadership",
    "customer_centric",
    "industry_knowledge",
    "ux_design",
]
