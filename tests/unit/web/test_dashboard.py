"""The dashboard's calls: the goals, the waiting requests and the inbox at once, nothing more."""

from __future__ import annotations

from typing import Any

from services.web.sessions import Identity
from tests.unit.web.fakes import browser, web_app


def _goal(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"g-{n}",
        "title": f"Goal {n}",
        "horizon": "short_term" if n % 2 else "long_term",
        "status": "active",
        "progress": 0.5,
        "at_risk": False,
        **fields,
    }


async def test_the_badge_comes_from_the_inbox_answer_without_a_count_call() -> None:
    app, store, api = web_app()
    goals = [_goal(n) for n in range(4)] + [_goal(9, status="achieved", title="Done already")]
    api.on("GET", "goals", "/v1/goals", lambda **_: {"items": goals, "next_cursor": None})
    api.on("GET", "feedback", "/v1/feedback-requests", lambda **_: {"items": []})
    api.on(
        "GET",
        "notifications",
        "/v1/inbox",
        lambda **_: {"items": [], "unread_count": 7, "unseen_count": 3, "next_cursor": None},
    )
    session = await store.open(Identity("acme", "p-1", ["employee"], "Priya"))
    async with browser(app) as client:
        client.cookies.set("northstar_session", session.id)
        response = await client.get("/")
    assert response.status_code == 200
    assert "Goal 3" in response.text
    assert "Done already" not in response.text  # only open goals
    assert '<span class="badge-count">7</span>' in response.text
    paths = sorted(path for _, _, path, _, _ in api.calls)
    assert paths == ["/v1/feedback-requests", "/v1/goals", "/v1/inbox"]


async def test_the_badge_is_asked_for_when_the_inbox_does_not_answer() -> None:
    app, store, api = web_app()
    api.on("GET", "goals", "/v1/goals", lambda **_: {"items": [], "next_cursor": None})
    api.on("GET", "feedback", "/v1/feedback-requests", lambda **_: {"items": []})
    session = await store.open(Identity("acme", "p-1", ["employee"], "Priya"))
    async with browser(app) as client:
        client.cookies.set("northstar_session", session.id)
        response = await client.get("/")
    assert response.status_code == 200
    assert "Notifications are not available right now." in response.text
    assert ("GET", "notifications", "/v1/inbox/count", "p-1", None) in api.calls
