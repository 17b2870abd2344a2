"""Sign-in against real servers: OpenID Connect with a real provider, and `northstar login-url`.

The OpenID provider is ``oidc-provider-mock`` (a real Authlib-based provider on a local port); the
web app runs in-process on the real Kafka and store; the people directory it matches the IdP user
against is a small stand-in answering ``GET /v1/people`` like the people service.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from oidc_provider_mock import User, run_server_in_thread

from services.web.config import WebSettings
from services.web.main import create_app
from tests.support import isolated_settings, running

pytestmark = pytest.mark.integration

PRIYA = {
    "id": "p-priya",
    "user_name": "priya.shah@acme.example",
    "display_name": "Priya Shah",
    "email": "priya.shah@acme.example",
    "emails": ["priya.shah@acme.example"],
    "active": True,
}
HARPER = {
    **PRIYA,
    "id": "p-harper",
    "user_name": "harper@acme.example",
    "email": None,
    "emails": ["Harper@acme.example"],
    "display_name": "Harper Reyes",
}


def people_directory(seen: list[dict[str, Any]]) -> FastAPI:
    directory = FastAPI()

    @directory.get("/v1/people")
    async def search(q: str = "") -> dict[str, Any]:
        seen.append({"q": q})
        found = [p for p in (PRIYA, HARPER) if p["user_name"].startswith(q.lower())]
        return {"items": found, "next_cursor": None}

    return directory


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    users = [
        User(sub="okta-priya", claims={"email": "priya.shah@acme.example"}),
        User(
            sub="okta-harper",
            claims={"email": "harper@acme.example", "groups": ["Northstar HR Admins"]},
        ),
        User(sub="okta-stranger", claims={"email": "nobody@acme.example"}),
    ]
    with run_server_in_thread(port=0, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest_asyncio.fixture
async def web(provider: str) -> AsyncIterator[tuple[httpx.AsyncClient, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    settings = isolated_settings(
        WebSettings,
        sign_in="oidc",
        oidc_issuer=provider,
        oidc_client_id="northstar-web",
        oidc_client_secret="client-secret",
        oidc_tenant="acme",
        public_url="http://test",
    )
    app = create_app(settings, api_transport=httpx.ASGITransport(app=people_directory(seen)))
    async with running(app) as client:
        yield client, seen


async def _sign_in_at_the_provider(
    web: httpx.AsyncClient, subject: str, next_url: str = "/"
) -> httpx.Response:
    start = await web.get("/login/oidc", params={"next": next_url})
    assert start.status_code == 303
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    # authorization code with PKCE (S256) and a nonce
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0]
    assert query["nonce"][0]
    async with httpx.AsyncClient() as idp:
        consent = await idp.post(authorize, data={"sub": subject})
    assert consent.status_code == 302, consent.text
    back = urlsplit(consent.headers["location"])
    assert back.path == "/auth/callback"
    return await web.get(f"{back.path}?{back.query}")


async def test_an_idp_user_is_matched_to_their_person_by_email_and_signed_in(
    web: tuple[httpx.AsyncClient, list[dict[str, Any]]],
) -> None:
    client, seen = web
    callback = await _sign_in_at_the_provider(client, "okta-priya", next_url="/goals/new")
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == "/goals/new"
    assert seen == [{"q": "priya.shah@acme.example"}]
    home = await client.get("/")
    assert home.status_code == 200
    assert "Priya Shah" in home.text
    assert 'href="/admin/people"' not in home.text  # an employee, not an HR admin


async def test_hr_admins_come_from_the_configured_group(
    web: tuple[httpx.AsyncClient, list[dict[str, Any]]],
) -> None:
    client, _ = web
    callback = await _sign_in_at_the_provider(client, "okta-harper")
    assert callback.status_code == 303
    home = await client.get("/")
    assert "Harper Reyes" in home.text
    assert 'href="/admin/people"' in home.text


async def test_an_idp_user_without_a_person_is_not_signed_in(
    web: tuple[httpx.AsyncClient, list[dict[str, Any]]],
) -> None:
    client, _ = web
    callback = await _sign_in_at_the_provider(client, "okta-stranger")
    assert callback.status_code == 403
    assert "has no active Northstar account" in callback.text
    assert (await client.get("/")).status_code == 303  # still signed out


async def test_a_callback_from_another_browser_is_refused(
    web: tuple[httpx.AsyncClient, list[dict[str, Any]]],
) -> None:
    client, _ = web
    start = await client.get("/login/oidc")
    authorize = start.headers["location"]
    async with httpx.AsyncClient() as idp:
        consent = await idp.post(authorize, data={"sub": "okta-priya"})
    back = urlsplit(consent.headers["location"])
    client.cookies.clear()  # the state cookie stayed in the browser that started
    refused = await client.get(f"{back.path}?{back.query}")
    assert refused.status_code == 403
    assert "another browser" in refused.text


def _login_url_command(env: dict[str, str]) -> list[str]:
    northstar = str(Path(sys.executable).with_name("northstar"))
    command = [
        northstar,
        "login-url",
        "--tenant",
        "acme",
        "--sub",
        "p-priya",
        "--next",
        "/goals/new",
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return done.stdout.strip().splitlines()


async def test_the_login_url_command_signs_a_browser_in_once() -> None:
    settings = isolated_settings(WebSettings, public_url="http://test")
    async with running(create_app(settings)) as client:
        env = {
            **os.environ,
            "WEB_MONGODB_DATABASE": settings.mongodb_database,
            "WEB_PUBLIC_URL": "http://test",
            "MONGODB_URI": settings.mongodb_uri,
        }
        printed = await asyncio.to_thread(_login_url_command, env)
        url = urlsplit(printed[-1])
        assert (url.scheme, url.netloc) == ("http", "test")
        signed_in = await client.get(f"{url.path}?{url.query}")
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/goals/new"
        client.cookies.clear()
        again = await client.get(f"{url.path}?{url.query}")
        assert again.status_code == 403
