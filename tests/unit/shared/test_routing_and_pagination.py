"""Routers with the in-memory broker, and opaque cursors."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import InvalidInput
from shared.events import new_event
from shared.events.goals import GoalAchieved
from shared.events.people import PersonDeactivated
from shared.messaging import Router
from shared.pagination import decode_cursor, encode_cursor
from tests.doubles import InMemoryBroker


def achieved(goal_id: str) -> Any:
    return new_event(
        GoalAchieved(
            goal_id=goal_id,
            tenant="acme",
            owner_id="p1",
            title="Lead",
            horizon="long_term",
            status="achieved",
            progress=1.0,
        ),
        tenant="acme",
        subject=goal_id,
        source="northstar/goals",
    )


async def test_every_handler_of_a_type_runs_in_order_and_other_types_are_skipped() -> None:
    seen: list[str] = []
    router = Router()

    @router.on(GoalAchieved)
    async def first(event: Any, payload: GoalAchieved) -> None:
        seen.append(f"first:{payload.goal_id}")

    @router.on(GoalAchieved)
    async def second(event: Any, payload: GoalAchieved) -> None:
        seen.append(f"second:{payload.goal_id}")

    broker = InMemoryBroker()
    await broker.publish(achieved("g1"))
    await broker.publish(
        new_event(
            PersonDeactivated(id="p", tenant="acme"),
            tenant="acme",
            subject="p",
            source="northstar/people",
        )
    )

    assert await broker.deliver(router) == 1
    assert seen == ["first:g1", "second:g1"]
    assert router.topics == {"northstar.goals.v1"}
    assert await broker.deliver(router) == 0  # nothing new


def test_cursor_round_trip() -> None:
    position = {"created_at": "2026-11-27T09:00:00Z", "id": "g1"}
    assert decode_cursor(encode_cursor(position)) == position
    assert decode_cursor(None) is None


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "WzFd"])
def test_foreign_cursors_are_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(cursor)
