"""Who is signed in, CSRF on every state change, and the security headers of every answer."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.web.sessions import Session, SessionStore

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# self only: no inline script or style anywhere (htmx's indicator styles are switched off in
# the page's htmx-config, Chart.js styles its canvas through the CSSOM, which CSP allows)
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the security headers to every HTTP answer (pure ASGI: streams stay streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *[(n, v) for n, v in SECURITY_HEADERS if n not in present],
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class SignInRequired(Exception):
    """No live session: the visitor is sent to sign in, then back to ``next_url``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRefused(Exception):
    """A state-changing request without this session's CSRF token (403 page)."""


class PageNotFound(Exception):
    """A missing object, or another tenant's (404 page)."""


class PageForbidden(Exception):
    """The signed-in person may not see or do this (403 page)."""


def sign_in_url(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="/")


def safe_next(next_url: str | None) -> str:
    """Only same-site paths: ``//evil.example`` or ``https://…`` would make an open redirect."""
    if not next_url or not next_url.startswith("/") or next_url.startswith("//"):
        return "/"
    if "\\" in next_url:
        return "/"
    return next_url


async def optional_session(request: Request) -> Session | None:
    store: SessionStore = request.app.state.sessions
    cookie = request.cookies.get(request.app.state.settings.session_cookie)
    return await store.find(cookie) if cookie else None


async def current_session(request: Request) -> Session:
    """The signed-in person; on a state change also checks the CSRF token."""
    session = await optional_session(request)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method not in SAFE_METHODS:
            target = request.headers.get("hx-current-url") or "/"
        raise SignInRequired(target)
    if request.method not in SAFE_METHODS:
        await check_csrf(request, session)
    request.state.session = session
    return session


async def check_csrf(request: Request, session: Session) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            # cached by Starlette: the route's own Form() parameters read the same form
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise CsrfRefused()


CurrentSession = Annotated[Session, Depends(current_session)]
MaybeSession = Annotated[Session | None, Depends(optional_session)]


async def hr_session(session: CurrentSession) -> Session:
    if not session.is_hr:
        raise PageForbidden()
    return session


HRSession = Annotated[Session, Depends(hr_session)]
