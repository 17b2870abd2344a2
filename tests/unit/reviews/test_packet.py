"""The packet from evidence documents: what belongs to the period, and the feedback trend."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.reviews.packet import assemble

START, END = date(2026, 1, 1), date(2026, 6, 30)


def at(month: int, day: int = 15, year: int = 2026) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def goal(goal_id: str, **kw: Any) -> dict[str, Any]:
    return {
        "goal_id": goal_id,
        "title": goal_id,
        "status": "active",
        "progress": 0.5,
        "first_seen_at": at(1),
        **kw,
    }


def move(
    goal_id: str, old: float, new: float, when: datetime, cause: str = "check_in"
) -> dict[str, Any]:
    return {
        "kind": "progress",
        "goal_id": goal_id,
        "old": old,
        "new": new,
        "cause": cause,
        "metric": None,
        "at": when,
    }


def ratings(value: int, when: datetime) -> dict[str, Any]:
    return {"kind": "ratings", "ratings": {"communication": value}, "at": when}


def test_only_the_periods_goals_moves_and_ratings_count() -> None:
    goals = [
        goal("in", created_at=at(2)),
        goal("later", created_at=at(8)),  # created after the period
        goal("old", status="achieved", updated_at=at(6, year=2025), created_at=at(1, year=2025)),
    ]
    facts = [
        move("in", 0.0, 0.1, at(12, year=2025)),  # before the period
        move("in", 0.1, 0.4, at(3)),
        move("in", 0.4, 0.9, at(4), cause="kpi"),
        {"kind": "milestone", "goal_id": "in", "milestone": "0.5", "at": at(4)},
        ratings(5, at(10, year=2025)),
        ratings(3, at(2)),
        ratings(3, at(5)),
        {"kind": "praise", "from_id": "bob", "skills": [], "visibility": "private", "at": at(3)},
    ]
    packet = assemble(goals, facts, START, END)
    [only] = packet["goals"]
    assert only["goal_id"] == "in"
    assert only["progress_in_period"] == 0.8
    assert [m["cause"] for m in only["biggest_moves"]] == ["kpi", "check_in"]
    assert only["check_ins"] == 1
    assert packet["check_in_count"] == 1
    [communication] = packet["feedback"]
    assert (communication["average"], communication["count"]) == (3.0, 2)
    assert communication["previous_average"] == 5.0
    assert communication["trend"] == "down"
    assert packet["praise"] == [{"from_id": None, "skills": [], "at": at(3)}]  # private: unnamed
    assert packet["achievements"] == []
