"""The web app: Northstar in the browser, rendered on the server from the services' APIs."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.web.client import Api
from services.web.config import WebSettings
from services.web.errors import install_error_pages
from services.web.oidc import OidcSignIn
from services.web.pages import ROUTERS
from services.web.privacy import WebPersonalData
from services.web.security import SecurityHeaders
from services.web.sessions import SessionStore, indexes
from services.web.templating import HERE
from shared.app import Lifecycle, create_service_app
from shared.erasure import data_router, register_erasure
from shared.events import topics
from shared.messaging.consumer import Router


def create_app(
    settings: WebSettings | None = None, *, api_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """``api_transport`` lets a test route the API calls to in-process apps."""
    settings = settings or WebSettings()
    if settings.sign_in == "local" and settings.environment != "local":
        raise ValueError("sign-in links are for local mode: set WEB_SIGN_IN=oidc in production")

    async def wiring(service: Lifecycle) -> None:
        sessions = SessionStore(
            service.db, ttl_s=settings.session_ttl_s, link_ttl_s=settings.login_link_ttl_s
        )
        api = Api(settings, transport=api_transport)
        service.on_stop(api.close)
        service.every(settings.session_prune_interval_s, sessions.prune, name="session-prune")
        oidc = OidcSignIn(settings, sessions, api) if settings.sign_in == "oidc" else None
        # the web app's one subscription: an erased person's sign-in state goes
        personal_data = WebPersonalData(service.db)
        subscriptions = Router()
        register_erasure(
            subscriptions, service="web", data=personal_data, publisher=service.producer
        )
        service.consume(subscriptions, group="web")
        service.provide(sessions=sessions, api=api, oidc=oidc, personal_data=personal_data)

    app = create_service_app(
        name="web",
        settings=settings,
        routers=[*ROUTERS, data_router("web")],
        indexes=indexes(),
        topics=[topics.PRIVACY],
        wiring=wiring,
        description="Northstar in the browser (pages, not an API).",
    )
    install_error_pages(app)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
