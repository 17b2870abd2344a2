"""CSRF on every state change, the sign-in redirect, error pages and the security headers."""

from __future__ import annotations

import pytest

from services.web.security import CONTENT_SECURITY_POLICY, safe_next
from services.web.sessions import Identity
from tests.unit.web.fakes import browser, web_app

PRIYA = Identity(tenant="acme", person_id="p-1", roles=["employee"], name="Priya")


async def _signed_in():  # type: ignore[no-untyped-def]
    app, store, api = web_app()
    session = await store.open(PRIYA)
    client = browser(app)
    client.cookies.set("northstar_session", session.id)
    return client, session, api


async def test_a_signed_out_visitor_is_sent_to_sign_in_with_the_page_asked_for() -> None:
    app, _, _ = web_app()
    async with browser(app) as client:
        response = await client.get("/goals/g-1?tab=timeline")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/goals/g-1%3Ftab%3Dtimeline"


async def test_a_post_without_the_csrf_token_is_refused_with_a_page() -> None:
    client, _, api = await _signed_in()
    async with client:
        response = await client.post("/goals/new", data={"title": "Forged"})
        assert response.status_code == 403
        assert "did not come from Northstar" in response.text
        wrong = await client.post("/goals/new", data={"csrf_token": "guess", "title": "Forged"})
        assert wrong.status_code == 403
        header = await client.post("/logout", headers={"X-CSRF-Token": "guess"})
        assert header.status_code == 403
    assert not [call for call in api.calls if call[0] == "POST"]


async def test_the_csrf_token_in_the_form_or_the_header_is_accepted() -> None:
    client, session, api = await _signed_in()
    api.on("POST", "goals", "/v1/goals", lambda body, **_: {"id": "g-9", **body})
    api.on("GET", "goals", "/v1/goal-templates", lambda **_: {"items": []})
    async with client:
        created = await client.post(
            "/goals/new",
            data={"csrf_token": session.csrf_token, "title": "Learn SQL", "horizon": "short_term"},
        )
        assert created.status_code == 303
        assert created.headers["location"] == "/goals/g-9"
        out = await client.post("/logout", headers={"X-CSRF-Token": session.csrf_token})
        assert out.status_code == 303
        assert "northstar_session" in out.headers["set-cookie"]
        # the session is over: the next page asks to sign in again
        assert (await client.get("/")).status_code == 303


async def test_every_answer_carries_a_strict_content_security_policy() -> None:
    app, _, _ = web_app()
    async with browser(app) as client:
        response = await client.get("/login")
    csp = response.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    # and the page itself has no inline script or style for the policy to block
    assert "<script>" not in response.text
    assert "style=" not in response.text


async def test_a_login_link_sets_an_http_only_lax_cookie_and_works_once() -> None:
    app, store, _ = web_app()
    token = await store.issue_link(PRIYA)
    async with browser(app) as client:
        response = await client.get(f"/login/link/{token}?next=/goals/g-1")
        assert response.status_code == 303
        assert response.headers["location"] == "/goals/g-1"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "secure" not in cookie  # local mode over http
        again = await client.get(f"/login/link/{token}")
    assert again.status_code == 403
    assert "expired or was already used" in again.text


async def test_the_cookie_is_secure_when_configured() -> None:
    from services.web.config import WebSettings

    app, store, _ = web_app(WebSettings(cookie_secure=True))
    token = await store.issue_link(PRIYA)
    async with browser(app) as client:
        response = await client.get(f"/login/link/{token}")
    assert "secure" in response.headers["set-cookie"].lower()


async def test_another_tenants_goal_is_a_not_found_page() -> None:
    client, _, _ = await _signed_in()
    async with client:
        response = await client.get("/goals/someone-elses")
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("/goals/1", "/goals/1"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
)
def test_only_same_site_paths_are_followed_after_sign_in(asked: str, expected: str) -> None:
    assert safe_next(asked) == expected
