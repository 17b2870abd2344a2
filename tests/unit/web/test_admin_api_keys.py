"""The API keys page on a fake people API: the form's body, its refusals, the key shown once."""

from __future__ import annotations

from typing import Any

from services.web.client import ApiProblem
from services.web.sessions import Identity
from tests.unit.web.fakes import browser, web_app

ADMIN = Identity("acme", "adm", ["employee", "hr_admin", "admin"], "Ada")
LISTED = {
    "key_id": "0123456789ab",
    "name": "Old script",
    "scopes": ["goals:read"],
    "created_at": "2026-11-01T09:00:00Z",
    "created_by": "adm",
    "expires_at": "2027-01-30T09:00:00Z",
    "last_used_at": None,
    "revoked_at": None,
}


async def test_a_key_is_created_with_its_scopes_and_expiry_and_shown_once() -> None:
    app, store, api = web_app()
    sent: list[Any] = []

    def create(body: Any, **_: Any) -> dict[str, Any]:
        sent.append(body)
        return {**LISTED, "key_id": "fedcba987654", "key": "nsk_fedcba987654_" + "s" * 43}

    api.on("GET", "people", "/v1/api-keys", lambda **_: {"items": [LISTED], "next_cursor": None})
    api.on("POST", "people", "/v1/api-keys", create)
    session = await store.open(ADMIN)
    async with browser(app) as client:
        client.cookies.set("northstar_session", session.id)
        form = {
            "csrf_token": session.csrf_token,
            "name": " Nightly ",
            "scopes": ["kpi:read", "kpi:write"],
            "expires_in": "30",
        }
        created = await client.post("/admin/api-keys", data=form)
        listed = await client.get("/admin/api-keys")
    assert created.status_code == 200
    assert "nsk_fedcba987654_" in created.text
    (body,) = sent
    assert (body["name"], body["scopes"]) == ("Nightly", ["kpi:read", "kpi:write"])
    assert "expires_at" in body
    assert "nsk_" not in listed.text
    assert "Old script" in listed.text


async def test_a_refused_form_keeps_what_was_typed_and_says_why() -> None:
    app, store, api = web_app()
    api.on("GET", "people", "/v1/api-keys", lambda **_: {"items": [], "next_cursor": None})

    def refuse(**_: Any) -> None:
        raise ApiProblem(422, "expires_at is too far", {"expires_at": "at most 365 days ahead"})

    api.on("POST", "people", "/v1/api-keys", refuse)
    session = await store.open(ADMIN)
    async with browser(app) as client:
        client.cookies.set("northstar_session", session.id)
        token = session.csrf_token
        no_scope = await client.post(
            "/admin/api-keys", data={"csrf_token": token, "name": "x", "expires_in": "90"}
        )
        bad_expiry = await client.post(
            "/admin/api-keys",
            data={"csrf_token": token, "name": "x", "scopes": "kpi:read", "expires_in": "9999"},
        )
        refused = await client.post(
            "/admin/api-keys",
            data={"csrf_token": token, "name": "Kept", "scopes": "kpi:read", "expires_in": "90"},
        )
    assert no_scope.status_code == 422
    assert "Choose at least one scope." in no_scope.text
    assert bad_expiry.status_code == 422
    assert "Choose one of the expiries." in bad_expiry.text
    # only the third reached the API, and its problem is shown by the expiry
    assert [c[:3] for c in api.calls if c[0] == "POST"] == [("POST", "people", "/v1/api-keys")]
    assert refused.status_code == 422
    assert "at most 365 days ahead" in refused.text
    assert 'value="Kept"' in refused.text
    assert 'value="kpi:read" checked' in refused.text
