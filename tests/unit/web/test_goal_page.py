"""The goal page from the goals API: causes in words, milestones marked, every timeline page."""

from __future__ import annotations

from typing import Any

from services.web.sessions import Identity
from tests.unit.web.fakes import browser, web_app

GOAL: dict[str, Any] = {
    "id": "g-1",
    "owner_id": "p-1",
    "title": "Drive the launch of a product with real impact",
    "description": "",
    "horizon": "long_term",
    "category": "outcome",
    "status": "active",
    "progress": 0.55,
    "at_risk": False,
    "review_pending": None,
    "due_date": None,
    "milestones_reached": ["0.25", "0.5"],
    "created_at": "2026-12-01T09:00:00Z",
    "version": 4,
    "key_results": [
        {
            "id": "kr-1",
            "title": "Mobile adoption reaches 40 %",
            "start": 0,
            "target": 40,
            "current": 22,
            "unit": "%",
            "progress": 0.55,
            "source": {"kpi": {"metric": "adoption_rate", "filters": {"product": "mobile"}}},
        }
    ],
}


def _kpi(at: str, old: float, new: float, value: float) -> dict[str, Any]:
    return {
        "id": at,
        "at": at,
        "kind": "progress",
        "old_progress": old,
        "new_progress": new,
        "value": value,
        "cause": {"kind": "kpi", "metric": "adoption_rate", "source_id": "src-1"},
    }


def _timeline(params: dict[str, Any], **_: Any) -> dict[str, Any]:
    # two pages, oldest first, like the goals API
    if params.get("cursor") is None:
        return {"items": [_kpi("2026-12-01T10:00:00Z", 0, 0.3, 12)], "next_cursor": "c-2"}
    return {"items": [_kpi("2026-12-02T10:00:00Z", 0.3, 0.55, 22)], "next_cursor": None}


async def test_the_goal_page_shows_each_change_with_its_cause_and_milestone() -> None:
    app, store, api = web_app()
    api.on("GET", "goals", "/v1/goals/g-1", lambda **_: GOAL)
    api.on("GET", "goals", "/v1/goals/g-1/timeline", _timeline)
    api.on("GET", "goals", "/v1/goals/g-1/tree", lambda **_: {"ancestors": [], "tree": {}})
    session = await store.open(Identity("acme", "p-1", ["employee"], "Priya"))
    async with browser(app) as client:
        client.cookies.set("northstar_session", session.id)
        response = await client.get("/goals/g-1")
    assert response.status_code == 200
    text = response.text
    assert "KPI adoption_rate = 12 from source src-1" in text
    assert "KPI adoption_rate = 22 from source src-1" in text  # from the second page
    assert "Milestone 25 % reached" in text
    assert "Milestone 50 % reached" in text
    assert "follows KPI adoption_rate{product=mobile}" in text
    assert 'sse-connect="/live/goals/g-1?version=4"' in text
    # the header's badge was asked for once, beside the page's own calls
    assert '<span class="badge-count">2</span>' in text
    assert [c[2] for c in api.calls].count("/v1/inbox/count") == 1


async def _goal_page_as(person_id: str, chain: list[str]) -> str:
    app, store, api = web_app()
    api.on("GET", "goals", "/v1/goals/g-1", lambda **_: GOAL)
    api.on("GET", "goals", "/v1/goals/g-1/timeline", _timeline)
    api.on("GET", "goals", "/v1/goals/g-1/tree", lambda **_: {"ancestors": [], "tree": {}})
    api.on(
        "GET",
        "people",
        "/v1/people/p-1/chain",
        lambda **_: {"items": [{"id": i} for i in chain], "next_cursor": None},
    )
    session = await store.open(Identity("acme", person_id, ["employee"], "Someone"))
    async with browser(app) as client:
        client.cookies.set("northstar_session", session.id)
        response = await client.get("/goals/g-1")
    assert response.status_code == 200
    return response.text


async def test_the_owner_and_their_managers_are_offered_to_ask_for_feedback_on_the_goal() -> None:
    link = 'href="/feedback/ask?subject_id=p-1&amp;goal_id=g-1">Ask for feedback on this goal'
    assert link in await _goal_page_as("p-1", chain=["m-1"])  # the owner
    assert link in await _goal_page_as("m-2", chain=["m-1", "m-2"])  # their manager's manager
    # a mentor or a colleague who may read the goal is not: the request would be refused
    assert "Ask for feedback on this goal" not in await _goal_page_as("p-9", chain=["m-1"])
