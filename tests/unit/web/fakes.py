"""In-memory stand-ins for web's store and for the services' APIs (unit tests only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from services.web.client import ApiProblem, TokenMinter
from services.web.config import WebSettings
from services.web.errors import install_error_pages
from services.web.pages import ROUTERS
from services.web.security import SecurityHeaders
from services.web.sessions import Session, SessionStore

Document = dict[str, Any]


def _matches(doc: Document, filter_: Document) -> bool:
    for key, expected in filter_.items():
        value = doc.get(key)
        if isinstance(expected, dict) and "$lte" in expected:
            if value is None or not value <= expected["$lte"]:
                return False
        elif value != expected:
            return False
    return True


class FakeCollection:
    def __init__(self) -> None:
        self.docs: list[Document] = []

    async def insert_one(self, document: Document) -> None:
        if any(d["_id"] == document["_id"] for d in self.docs):
            raise ValueError("duplicate key")
        self.docs.append(dict(document))

    async def find_one(self, filter_: Document) -> Document | None:
        return next((dict(d) for d in self.docs if _matches(d, filter_)), None)

    async def find_one_and_delete(self, filter_: Document) -> Document | None:
        found = next((d for d in self.docs if _matches(d, filter_)), None)
        if found is not None:
            self.docs.remove(found)
        return found

    async def delete_one(self, filter_: Document) -> None:
        await self.find_one_and_delete(filter_)

    async def delete_many(self, filter_: Document) -> None:
        self.docs = [d for d in self.docs if not _matches(d, filter_)]


class FakeDb(dict[str, FakeCollection]):
    def __missing__(self, name: str) -> FakeCollection:
        self[name] = FakeCollection()
        return self[name]


Handler = Callable[..., Any]


class FakeApi:
    """Answers by (method, service, path); records every call with the session's person."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.minter = TokenMinter(settings)
        self.routes: dict[tuple[str, str, str], Handler] = {
            ("GET", "notifications", "/v1/inbox/count"): lambda **_: {"unread": 2},
        }
        self.calls: list[tuple[str, str, str, str, Any]] = []

    def on(self, method: str, service: str, path: str, handler: Handler) -> None:
        self.routes[(method, service, path)] = handler

    async def request(
        self,
        method: str,
        service: str,
        path: str,
        session: Session,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        self.calls.append((method, service, path, session.person_id, json))
        handler = self.routes.get((method, service, path))
        if handler is None:
            raise ApiProblem(404, f"no fake for {method} {service} {path}")
        return handler(body=json, session=session, params=params or {})

    async def get(self, service: str, path: str, session: Session, **params: Any) -> Any:
        return await self.request("GET", service, path, session, params=params)

    async def post(self, service: str, path: str, session: Session, body: Any = None) -> Any:
        return await self.request("POST", service, path, session, json=body)

    async def patch(self, service: str, path: str, session: Session, body: Any = None) -> Any:
        return await self.request("PATCH", service, path, session, json=body)

    async def as_service(self, service: str, path: str, **_: Any) -> Any:
        raise ApiProblem(404, "unknown")


def web_app(settings: WebSettings | None = None) -> tuple[FastAPI, SessionStore, FakeApi]:
    """The web app's routes, error pages and headers on fakes (no Kafka, no store)."""
    settings = settings or WebSettings()
    app = FastAPI()
    store = SessionStore(FakeDb(), ttl_s=settings.session_ttl_s, link_ttl_s=60)
    api = FakeApi(settings)
    app.state.settings, app.state.sessions, app.state.api, app.state.oidc = (
        settings,
        store,
        api,
        None,
    )
    for router in ROUTERS:
        app.include_router(router)
    install_error_pages(app)
    app.add_middleware(SecurityHeaders)
    return app, store, api


def browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web.test")
