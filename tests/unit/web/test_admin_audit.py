"""``/admin/audit`` on fakes: the form's filters as the API's, a record's rows, pages, CSV link."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from services.web.client import ApiProblem
from services.web.pages.admin_audit import api_time, changes, search_params
from services.web.sessions import Identity
from tests.unit.web.fakes import browser, web_app

RECORD = {
    "id": "r-1",
    "service": "people",
    "action": "person.manager_changed",
    "actor": {"type": "person", "id": "hr-1", "roles": ["hr_admin"]},
    "object": {"type": "person", "id": "p-7"},
    "at": "2026-12-03T04:05:06.123000Z",
    "before": {"manager_id": "m-1"},
    "after": {"manager_id": "m-2"},
    "details": {},
    "request_id": "req-42",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
}


def test_a_local_date_time_is_read_as_utc_and_anything_else_is_refused() -> None:
    assert api_time("2026-12-03T04:05") == "2026-12-03T04:05:00Z"
    assert api_time("2026-12-03") is None
    assert api_time("yesterday") is None
    assert api_time("2026-12-03T04:05+01:00") is None
    params, errors = search_params(
        {"actor": "hr-1", "action": "", "from": "2026-12-03T04:05", "to": "soon"}
    )
    assert params == {"actor": "hr-1", "from": "2026-12-03T04:05:00Z"}
    assert errors == {"to": "enter a date and time"}


def test_changes_pair_each_field_s_before_and_after() -> None:
    record = {"before": {"active": True}, "after": {"active": False, "note": None, "ids": [1]}}
    assert changes(record) == [("active", "true", "false"), ("ids", "—", "[1]"), ("note", "—", "—")]
    moved = {"before": {"manager_id": "m-1"}, "after": {"manager_id": "m-2"}}
    assert changes(moved, {"m-2": "Morgan Lee"}) == [("manager_id", "m-1", "Morgan Lee")]


async def _signed_in(roles: list[str]) -> tuple[Any, Any, str]:
    app, store, api = web_app()
    session = await store.open(Identity("acme", "hr-1", roles, "Harper"))
    api.on(
        "GET",
        "people",
        "/v1/people",
        lambda **_: {"items": [{"id": "hr-1", "display_name": "Harper Reyes", "user_name": "h"}]},
    )
    return app, api, session.id


async def test_the_search_sends_the_filters_and_shows_who_what_when_and_the_next_page() -> None:
    app, api, cookie = await _signed_in(["employee", "hr_admin"])
    asked: list[dict[str, Any]] = []

    def search(params: dict[str, Any], **_: Any) -> dict[str, Any]:
        asked.append(params)
        return {"items": [RECORD], "next_cursor": "c-2"}

    api.on("GET", "people", "/v1/audit", search)
    async with browser(app) as client:
        client.cookies.set("northstar_session", cookie)
        response = await client.get(
            "/admin/audit",
            params={"actor": "hr-1", "object_type": "person", "from": "2026-12-03T00:00"},
        )
    assert response.status_code == 200
    assert asked == [
        {
            "actor": "hr-1",
            "object_type": "person",
            "from": "2026-12-03T00:00:00Z",
            "cursor": None,
            "limit": 25,
        }
    ]
    text = response.text
    for shown in ("Harper Reyes", "person.manager_changed", "p-7", "m-1", "m-2", "req-42"):
        assert shown in text
    assert RECORD["trace_id"] in text
    csv = "/admin/audit.csv?actor=hr-1&amp;object_type=person&amp;from=2026-12-03T00%3A00"
    assert f'href="{csv}"' in text
    older = text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    query = parse_qs(urlsplit(older.replace("&amp;", "&")).query)
    assert query == {
        "actor": ["hr-1"],
        "object_type": ["person"],
        "from": ["2026-12-03T00:00"],
        "cursor": ["c-2"],
    }


async def test_the_api_s_refusal_is_shown_next_to_its_field_and_an_employee_gets_403() -> None:
    app, api, cookie = await _signed_in(["employee", "hr_admin"])

    def refuse(**_: Any) -> dict[str, Any]:
        raise ApiProblem(422, "from must be before to", {"from": "from must be before to"})

    api.on("GET", "people", "/v1/audit", refuse)
    async with browser(app) as client:
        client.cookies.set("northstar_session", cookie)
        response = await client.get(
            "/admin/audit", params={"from": "2026-12-03T10:00", "to": "2026-12-03T09:00"}
        )
    assert response.status_code == 422
    assert 'id="from-error">from must be before to' in response.text
    assert 'value="2026-12-03T10:00"' in response.text  # what was typed stays
    assert "Export this search as CSV" not in response.text

    app, api, cookie = await _signed_in(["employee"])
    async with browser(app) as client:
        client.cookies.set("northstar_session", cookie)
        response = await client.get("/admin/audit")
    assert response.status_code == 403
    assert "Not allowed" in response.text
    assert not [call for call in api.calls if call[2] == "/v1/audit"]
