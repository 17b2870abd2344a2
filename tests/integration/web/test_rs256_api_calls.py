"""Production sign-in end to end: web signs its API tokens RS256, the services verify them
through web's JWKS URL, and a person signed in through a real OpenID provider uses the app.

Everything runs on real ports (uvicorn in this process) so the services fetch the key set over
HTTP as they do in production (``NORTHSTAR_JWT_JWKS_URL=http://web:8000/.well-known/jwks.json``);
Kafka and the document store are the real servers. Every service runs with
``NORTHSTAR_ENV=production``: the HS256 secret is not accepted anywhere.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
import pytest_asyncio
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from oidc_provider_mock import User, run_server_in_thread
from pymongo import AsyncMongoClient

from deploy.local.servers import free_port
from services.feedback.config import FeedbackSettings
from services.feedback.main import create_app as feedback_app
from services.goals.config import GoalsSettings
from services.goals.main import create_app as goals_app
from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app as notifications_app
from services.people.config import PeopleSettings
from services.people.main import create_app as people_app
from services.web.client import TokenMinter
from services.web.config import WebSettings
from services.web.main import create_app as web_app
from shared.auth import issue_local_token
from shared.config import CommonSettings
from tests.support import MONGODB_URI, isolated_settings, unique

pytestmark = pytest.mark.integration

TENANT = "acme"
ISSUER = "https://northstar.test/web"
AUDIENCE = "northstar-apis"
KEY_ID = "web-2026-12"
EMAIL = "priya.shah@acme.example"
# one read per service the test checks tokens against
READS = {
    "people": "/v1/people",
    "goals": "/v1/goals",
    "feedback": "/v1/feedback-requests",
    "notifications": "/v1/inbox",
}


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[None]:
    """The app on a real port (its lifespan included) until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60
    while not server.started:
        if task.done():
            task.result()  # its start-up failed: say why
        assert time.monotonic() < deadline, f"port {port} did not start"
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@dataclass
class Production:
    web: str
    urls: dict[str, str]
    settings: WebSettings
    minter: TokenMinter


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    users = [User(sub="idp-priya", claims={"email": EMAIL})]
    with run_server_in_thread(port=0, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest_asyncio.fixture
async def production(provider: str) -> AsyncIterator[Production]:
    run = unique()
    ports = {name: free_port() for name in ("web", "people", "goals", "feedback", "notifications")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    trust_web = {
        "environment": "production",
        "jwt_jwks_url": f"{urls['web']}/.well-known/jwks.json",
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
    }
    web_settings = isolated_settings(
        WebSettings,
        run,
        **trust_web,
        sign_in="oidc",
        oidc_issuer=provider,
        oidc_client_id="northstar-web",
        oidc_client_secret="client-secret",
        oidc_tenant=TENANT,
        public_url=urls["web"],
        api_signing_key=_pem(),
        api_signing_key_id=KEY_ID,
        **{f"{name}_url": url for name, url in urls.items() if name != "web"},
    )
    apps = {
        "web": web_app(web_settings),
        "people": people_app(isolated_settings(PeopleSettings, run, **trust_web)),
        "goals": goals_app(
            isolated_settings(GoalsSettings, run, **trust_web, scheduler_enabled=False)
        ),
        "feedback": feedback_app(
            isolated_settings(
                FeedbackSettings, run, **trust_web, anonymity_secret="s" * 32 + uuid.uuid4().hex
            )
        ),
        "notifications": notifications_app(
            isolated_settings(NotificationsSettings, run, **trust_web)
        ),
    }
    databases = [app.state.settings.mongodb_database for app in apps.values()]
    try:
        async with AsyncExitStack() as stack:
            for name, app in apps.items():
                await stack.enter_async_context(serving(app, ports[name]))
            yield Production(urls["web"], urls, web_settings, TokenMinter(web_settings))
    finally:
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
        for database in databases:
            await mongo.drop_database(database)
        await mongo.close()


async def _provision_priya(prod: Production, http: httpx.AsyncClient) -> str:
    """A SCIM token issued with a web-signed admin token, then Priya over SCIM."""
    admin = prod.minter.mint(TENANT, "it-admin", ["admin"])
    issued = await http.post(
        f"{prod.urls['people']}/v1/scim-tokens",
        headers={"Authorization": f"Bearer {admin}"},
        json={"name": "idp"},
    )
    assert issued.status_code == 201, issued.text
    created = await http.post(
        f"{prod.urls['people']}/scim/v2/Users",
        headers={
            "Authorization": f"Bearer {issued.json()['token']}",
            "content-type": "application/scim+json",
        },
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": EMAIL,
            "displayName": "Priya Shah",
            "active": True,
            "emails": [{"value": EMAIL, "type": "work", "primary": True}],
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _sign_in(prod: Production, browser: httpx.AsyncClient) -> None:
    start = await browser.get("/login/oidc", params={"next": "/"})
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as idp:
        consent = await idp.post(start.headers["location"], data={"sub": "idp-priya"})
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    # web matched the IdP's e-mail in the people directory with its own RS256 token
    callback = await browser.get(f"{back.path}?{back.query}")
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == "/"


async def test_web_signs_rs256_and_the_services_verify_it_through_its_jwks(
    production: Production,
) -> None:
    prod = production
    async with (
        httpx.AsyncClient(timeout=20) as http,
        httpx.AsyncClient(base_url=prod.web, timeout=20) as browser,
    ):
        jwks = (await http.get(f"{prod.web}/.well-known/jwks.json")).json()
        assert [(k["kid"], k["alg"], k["kty"]) for k in jwks["keys"]] == [(KEY_ID, "RS256", "RSA")]
        assert "d" not in jwks["keys"][0]  # the public half only

        priya = await _provision_priya(prod, http)
        await _sign_in(prod, browser)

        # a write through web: the goal form, CSRF token and all
        form_page = await browser.get("/goals/new")
        assert form_page.status_code == 200, form_page.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', form_page.text)
        assert found is not None
        title = f"Ship the onboarding revamp {unique()}"
        created = await browser.post(
            "/goals/new",
            data={
                "csrf_token": found.group(1),
                "title": title,
                "horizon": "short_term",
                "category": "outcome",
                "status": "active",
                "visibility": "team",
                "start_date": str(date.today()),
                "due_date": str(date.today() + timedelta(days=60)),
                "key_results.0.title": "Activation rate",
                "key_results.0.start": "0",
                "key_results.0.target": "40",
            },
        )
        assert created.status_code == 303, created.text
        goal_path = created.headers["location"]

        # reads through web from every service behind the dashboard and the goal page
        dashboard = await browser.get("/")
        assert dashboard.status_code == 200
        assert "Priya Shah" in dashboard.text
        assert title in dashboard.text
        assert "not available" not in dashboard.text  # goals, feedback and notifications answered
        goal_page = await browser.get(goal_path)
        assert goal_page.status_code == 200
        assert title in goal_page.text
        stored = await http.get(
            f"{prod.urls['goals']}{goal_path.replace('/goals/', '/v1/goals/')}",
            headers={"Authorization": f"Bearer {prod.minter.mint(TENANT, priya, ['employee'])}"},
        )
        assert stored.status_code == 200
        assert stored.json()["owner_id"] == priya  # web called as the signed-in person

        # the services trust web's key and nothing else: not the local HS256 secret, not
        # another RSA key under web's kid, not web's key for another audience
        local = issue_local_token(CommonSettings(), tenant=TENANT, sub=priya, roles=["employee"])
        now = int(time.time())
        claims = {"sub": priya, "tenant": TENANT, "iss": ISSUER, "aud": AUDIENCE, "exp": now + 60}
        forged = jwt.encode(claims, _pem(), algorithm="RS256", headers={"kid": KEY_ID})
        other_audience = TokenMinter(
            prod.settings.model_copy(update={"jwt_audience": "another-app"})
        ).mint(TENANT, priya, ["employee"])
        for service, path in READS.items():
            for token in (local, forged, other_audience):
                refused = await http.get(
                    prod.urls[service] + path, headers={"Authorization": f"Bearer {token}"}
                )
                assert refused.status_code == 401, (service, refused.text)
            # while web's own token for the same person is accepted
            accepted = await http.get(
                prod.urls[service] + path,
                headers={
                    "Authorization": f"Bearer {prod.minter.mint(TENANT, priya, ['employee'])}"
                },
            )
            assert accepted.status_code == 200, (service, accepted.text)
