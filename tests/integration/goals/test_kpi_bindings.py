"""The KPI binding index and the timeline collection on the real document store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from services.goals.access import GoalFilter, Viewer
from services.goals.binding_repository import BINDINGS
from services.goals.bindings import binding_key
from services.goals.common import GoalStore
from services.goals.config import GoalsSettings
from services.goals.domain import Goal
from services.goals.progress import DataPoint, KeyResult, KpiBinding
from services.goals.reactions import GoalReactions
from services.goals.repository import (
    GOALS,
    OUTBOX,
    PENDING_TIMELINE,
    TIMELINE_BATCH,
    GoalRepository,
    indexes,
)
from services.goals.timeline_repository import TIMELINE
from shared.errors import VersionConflict
from shared.messaging.outbox import PENDING
from shared.mongo import Document, ensure_indexes, open_database
from tests.support import isolated_settings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def reactions() -> AsyncIterator[GoalReactions]:
    settings = isolated_settings(GoalsSettings)
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    db = await open_database(client, settings.mongodb_database)
    await ensure_indexes(db, indexes())
    yield GoalReactions(GoalStore(GoalRepository(db), default_margin=0.15))
    await client.drop_database(settings.mongodb_database)
    await client.close()


def goal(goal_id: str, filters: dict[str, str], aggregation: str = "latest") -> Goal:
    g = Goal(
        id=goal_id,
        tenant="acme",
        owner_id="pm",
        title="Adoption",
        horizon="short_term",
        key_results={
            "k": KeyResult(
                "k",
                "Adoption",
                0,
                1000,
                0,
                kpi=KpiBinding("adoption", filters, aggregation),  # type: ignore[arg-type]
            )
        },
    )
    g.change_status("active", by="pm", today=NOW.date(), now=NOW)
    return g


def point(dp_id: str, value: float, minutes: int = 1, **dimensions: str) -> DataPoint:
    return DataPoint(dp_id, "adoption", value, NOW + timedelta(minutes=minutes), "s", dimensions)


async def current(reactions: GoalReactions, goal_id: str) -> float:
    found = await reactions.repo.get("acme", goal_id)
    assert found is not None
    return found.key_results["k"].current


async def test_a_point_moves_only_matching_goals_and_the_index_follows_edits_and_status(
    reactions: GoalReactions,
) -> None:
    store = reactions.store
    for g in (goal("t1", {"team": "t1"}), goal("t2", {"team": "t2"}), goal("all", {})):
        await store.insert(g)
    assert await reactions.apply_datapoint("acme", point("dp1", 5, team="t1", region="eu")) == 2
    assert [await current(reactions, g) for g in ("t1", "t2", "all")] == [5, 0, 5]

    edited = await reactions.repo.get("acme", "t1")
    assert edited is not None
    edited.replace_key_results(
        [KeyResult("k", "Adoption", 0, 1000, 5, kpi=KpiBinding("adoption", {"team": "t3"}))],
        by="pm",
        today=NOW.date(),
        now=NOW,
        margin=0.15,
    )
    await store.save(edited)
    abandoned = await reactions.repo.get("acme", "all")
    assert abandoned is not None
    abandoned.change_status("abandoned", by="pm", today=NOW.date(), now=NOW)
    await store.save(abandoned)

    assert await reactions.apply_datapoint("acme", point("dp2", 7, 2, team="t1")) == 0
    assert await reactions.apply_datapoint("acme", point("dp3", 9, 3, team="t3")) == 1
    assert [await current(reactions, g) for g in ("t1", "t2", "all")] == [9, 0, 5]
    bindings = reactions.repo.index.bindings
    old = await bindings.find_one({"_id": binding_key("acme", "adoption", {"team": "t1"})})
    assert old is not None
    assert old["goal_ids"] == []
    gone = await bindings.find_one({"_id": binding_key("acme", "adoption", {})})
    assert gone is not None
    assert gone["goal_ids"] == []


async def test_a_point_with_sixteen_dimensions_finds_a_goal_filtered_on_two(
    reactions: GoalReactions,
) -> None:
    await reactions.store.insert(goal("g", {"d3": "3", "d11": "11"}))
    dimensions = {f"d{i}": str(i) for i in range(16)}
    assert await reactions.apply_datapoint("acme", point("dp1", 4, **dimensions)) == 1


async def test_concurrent_points_on_one_goal_are_each_counted_once(
    reactions: GoalReactions,
) -> None:
    await reactions.store.insert(goal("g", {}, aggregation="sum"))

    async def deliver(p: DataPoint) -> None:
        while True:  # as the consumer runner does with a record that lost every race
            try:
                await reactions.apply_datapoint("acme", p)
                return
            except VersionConflict:
                continue

    points = [point(f"dp{i}", 1, i) for i in range(12)]
    await asyncio.gather(*(deliver(p) for p in points + points[:4]))  # 4 redelivered at once
    assert await current(reactions, "g") == 12
    entries = await reactions.repo.timeline("acme", "g", after=None, limit=100)
    kpi = [e["cause"]["datapoint_id"] for e in entries if e["kind"] == "progress"]
    assert sorted(kpi) == sorted(p.id for p in points)


async def test_the_timeline_pages_over_its_collection_and_the_entries_still_in_the_goal(
    reactions: GoalReactions,
) -> None:
    await reactions.store.insert(goal("g", {}, aggregation="sum"))
    points = TIMELINE_BATCH + 5
    for i in range(points):
        await reactions.apply_datapoint("acme", point(f"dp{i}", 1, i))
    raw = reactions.repo.goals.database
    # whole batches were moved, each in one insert; the newest entries are still in the goal
    pending = (await raw[GOALS].find_one({"_id": "g"}))["pending_timeline"]
    moved = await raw[TIMELINE].count_documents({"goal_id": "g"})
    assert moved > 0
    assert moved % TIMELINE_BATCH == 0
    assert 0 < len(pending) <= TIMELINE_BATCH
    assert moved + len(pending) == points + 1  # + the status entry of the creation

    pages: list[list[Document]] = []
    after = None
    while True:
        page = await reactions.repo.timeline("acme", "g", after=after, limit=10)
        if not page:
            break
        pages.append(page)
        after = page[-1]["seq"]
    entries = [e for page in pages for e in page]
    total = points + 1
    assert [len(p) for p in pages] == [10] * (total // 10) + [total % 10] * (total % 10 > 0)
    assert [e["kind"] for e in entries] == ["status"] + ["progress"] * points
    assert [e["cause"]["datapoint_id"] for e in entries[1:]] == [f"dp{i}" for i in range(points)]

    # moving entries again (a crash after the move, before the goal replaced them) is harmless
    await reactions.repo.timeline_log.move(pending)
    await reactions.repo.timeline_log.move(pending)
    again = await reactions.repo.timeline("acme", "g", after=None, limit=100)
    assert [e["seq"] for e in again] == [e["seq"] for e in entries]


async def test_a_goal_stored_before_the_index_is_indexed_and_keeps_its_embedded_timeline(
    reactions: GoalReactions,
) -> None:
    legacy = goal("old", {"team": "t1"})
    await reactions.store.insert(legacy)
    raw = reactions.repo.goals.database
    await raw[GOALS].update_one(
        {"_id": "old"},
        {
            "$unset": {"binding_keys": "", "pending_timeline": ""},
            "$set": {"timeline": [{"id": "e0", "at": NOW, "kind": "status", "to": "active"}]},
        },
    )
    await raw[BINDINGS].delete_many({})
    await raw[TIMELINE].delete_many({})
    assert await reactions.apply_datapoint("acme", point("dp1", 5, team="t1")) == 0

    assert await reactions.index_unbound_goals() == 1
    assert await reactions.apply_datapoint("acme", point("dp2", 6, 2, team="t1")) == 1
    entries = await reactions.repo.timeline("acme", "old", after=None, limit=10)
    assert next(e["id"] for e in entries) == "e0"
    assert entries[-1]["cause"]["datapoint_id"] == "dp2"
    assert await reactions.index_unbound_goals() == 0


async def test_a_goal_list_leaves_the_pending_timeline_and_guards_in_the_store_and_cannot_be_saved(
    reactions: GoalReactions,
) -> None:
    await reactions.store.insert(goal("g", {}, aggregation="sum"))
    for i in range(3):
        await reactions.apply_datapoint("acme", point(f"dp{i}", 1, i))
    repo = reactions.repo
    listed = await repo.visible_to("acme", Viewer(everything=True), GoalFilter(owner_id="pm"))
    assert [g.id for g in listed] == ["g"]
    # a list page is read for 100 goals at a time: their waiting entries stay in the store
    assert listed[0].stored[PENDING_TIMELINE] == []
    # and so do the applied-event guards (up to 1,000 ids and times a goal bound to a busy KPI)
    assert listed[0].applied == []
    with pytest.raises(RuntimeError, match="read by a list"):
        await repo.save(listed[0], [])
    loaded = await repo.get("acme", "g")
    assert loaded is not None
    # of its four entries (the status change and three points), the newest wait in the goal
    assert 0 < len(loaded.stored[PENDING_TIMELINE]) <= TIMELINE_BATCH
    assert len(loaded.applied) == 3
    assert all(loaded.has_applied(f"dp{i}") for i in range(3))
    entries = await repo.timeline("acme", "g", after=None, limit=100)
    assert [e["kind"] for e in entries] == ["status"] + ["progress"] * 3


async def test_only_the_kpi_path_reads_a_goals_outbox_and_a_held_save_needs_it(
    reactions: GoalReactions,
) -> None:
    """An ordinary load leaves the outbox in the store (its save appends to it); the held save
    of the KPI path replaces the entries it read, so it refuses a goal loaded without them."""
    await reactions.store.insert(goal("g", {}))  # its events wait in the outbox (no relay here)
    repo = reactions.repo
    raw = await repo.goals.find_one({"_id": "g"})
    assert raw is not None
    assert raw[PENDING]
    plain = await repo.get("acme", "g")
    assert plain is not None
    assert OUTBOX not in plain.stored
    with pytest.raises(RuntimeError, match="without its outbox"):
        await repo.save(plain, [], relay_after=NOW + timedelta(seconds=30))
    for loaded in (
        await repo.get("acme", "g", outbox=True),
        (await repo.get_many("acme", ["g"], outbox=True))["g"],
    ):
        assert loaded is not None
        assert [e.id for e in loaded.stored[OUTBOX]] == [e["id"] for e in raw[PENDING]]
    # an ordinary save, of a goal loaded without them, leaves the entries to the relay
    await repo.save(plain, [])
    after = await repo.goals.find_one({"_id": "g"})
    assert after is not None
    assert [e["id"] for e in after[PENDING]] == [e["id"] for e in raw[PENDING]]
