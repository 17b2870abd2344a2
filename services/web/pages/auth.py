"""Sign-in (one-time local links, OpenID Connect), sign-out and web's JWKS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.web.client import Api, ApiProblem
from services.web.config import WebSettings
from services.web.oidc import OidcSignIn, SignInFailed
from services.web.security import CurrentSession, MaybeSession, safe_next
from services.web.sessions import Identity, Session, SessionStore
from services.web.templating import page

router = APIRouter(include_in_schema=False)

NEXT_COOKIE = "northstar_next"
STATE_COOKIE = "northstar_oidc_state"


def _settings(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.settings
    return settings


def _store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def start_session(request: Request, session: Session, next_url: str) -> Response:
    """Redirect into the app with the session cookie set (and the sign-in cookies cleared)."""
    settings = _settings(request)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    response.set_cookie(
        settings.session_cookie,
        session.id,
        max_age=settings.session_ttl_s,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    response.delete_cookie(NEXT_COOKIE, path="/")
    response.delete_cookie(STATE_COOKIE, path="/")
    return response


@router.get("/login")
async def login(request: Request, session: MaybeSession, next: str = "/") -> Response:
    """The sign-in page; remembers where the visitor was going."""
    next_url = safe_next(next)
    if session is not None:
        return RedirectResponse(next_url, status_code=303)
    oidc = _settings(request).sign_in == "oidc"
    response = await page(
        request, "login.html", {"next_url": next_url, "oidc": oidc}, title="Sign in"
    )
    settings = _settings(request)
    response.set_cookie(
        NEXT_COOKIE,
        next_url,
        max_age=900,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    return response


@router.get("/login/link/{token}")
async def login_link(request: Request, token: str, next: str | None = None) -> Response:
    """A one-time link from ``northstar login-url`` (local mode only)."""
    settings = _settings(request)
    if settings.environment != "local" or settings.sign_in != "local":
        return await _refused(request, "Sign-in links only work in local mode.")
    identity = await _store(request).redeem_link(token)
    if identity is None:
        return await _refused(request, "This sign-in link has expired or was already used.")
    identity = await _with_name(request.app.state.api, identity)
    session = await _store(request).open(identity)
    return start_session(request, session, next or request.cookies.get(NEXT_COOKIE) or "/")


async def _with_name(api: Api, identity: Identity) -> Identity:
    try:
        person: dict[str, Any] = await api.as_service(
            "people", f"/v1/people/{identity.person_id}", tenant=identity.tenant
        )
    except ApiProblem:
        return identity  # the header shows the id until the people service knows the person
    name = str(person.get("display_name") or person.get("user_name") or "")
    return Identity(identity.tenant, identity.person_id, list(identity.roles), name)


async def _refused(request: Request, problem: str) -> Response:
    oidc = _settings(request).sign_in == "oidc"
    return await page(
        request,
        "login.html",
        {"next_url": "/", "oidc": oidc, "problem": problem},
        status_code=403,
        title="Sign in",
    )


@router.get("/login/oidc")
async def login_oidc(request: Request, next: str = "/") -> Response:
    """Off to the identity provider (authorization code + PKCE)."""
    oidc: OidcSignIn | None = request.app.state.oidc
    if oidc is None:
        return await _refused(request, "OpenID Connect sign-in is not configured.")
    url, state = await oidc.begin(safe_next(next))
    response = RedirectResponse(url, status_code=303)
    settings = _settings(request)
    # binds the IdP's answer to this browser: a state from another browser is refused
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=settings.login_link_ttl_s,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    return response


@router.get("/auth/callback")
async def oidc_callback(
    request: Request, state: str = "", code: str = "", error: str = ""
) -> Response:
    """The identity provider's answer: match the person, open a session."""
    oidc: OidcSignIn | None = request.app.state.oidc
    if oidc is None:
        return await _refused(request, "OpenID Connect sign-in is not configured.")
    if error or not code:
        return await _refused(request, f"The identity provider did not sign you in ({error}).")
    if not state or request.cookies.get(STATE_COOKIE) != state:
        return await _refused(request, "This sign-in was started in another browser; start again.")
    try:
        identity, next_url = await oidc.finish(state, code)
    except SignInFailed as exc:
        return await _refused(request, str(exc))
    session = await _store(request).open(identity)
    return start_session(request, session, next_url)


@router.post("/logout")
async def logout(request: Request, session: CurrentSession) -> Response:
    """End the session (POST with the CSRF token)."""
    await _store(request).close(session.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(_settings(request).session_cookie, path="/")
    return response


@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> Response:
    """The public key the services verify web's API tokens with (production)."""
    api: Api = request.app.state.api
    return JSONResponse(api.minter.jwks())


@router.get("/favicon.ico")
async def favicon() -> Response:
    """Browsers ask for it whatever the page says."""
    return RedirectResponse("/static/favicon.svg", status_code=301)
