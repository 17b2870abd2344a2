"""The document store the suite runs on keeps concurrent updates and finds documents by index.

These hold on MongoDB, and on the local FerretDB on PostgreSQL only because the scripts build it
with ``deploy/local/ferretdb.patch`` (upstream FerretDB 1.24 loses concurrent updates of one
document and scans the whole table for a lookup by ``_id``). The writers below are plain
clients, not the services' in-process serialized database, so the store alone must hold them:
two clients stand for two replicas.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import DuplicateKeyError

from shared.messaging.outbox import HAS_PENDING, ensure_outbox_index

Doc = dict[str, Any]


@pytest.fixture
async def clients(mongodb_uri: str) -> AsyncIterator[tuple[AsyncMongoClient[Doc], ...]]:
    pair = (AsyncMongoClient(mongodb_uri), AsyncMongoClient(mongodb_uri))
    yield pair
    await pair[0].drop_database(_DB)
    for client in pair:
        await client.close()


_DB = f"store_updates_{uuid.uuid4().hex[:8]}"


async def _is_ferretdb_on_postgresql(client: AsyncMongoClient[Doc]) -> bool:
    info = await client.admin.command("buildInfo")
    return "ferretdbVersion" in info and bool(
        info.get("ferretdbFeatures", {}).get("compareAndSwapUpdates")
    )


async def test_concurrent_increments_of_one_document_from_two_clients_all_count(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    first, second = (client[_DB]["counters"] for client in clients)
    await first.insert_one({"_id": "hot", "tenant": "t1", "count": 0})

    async def bump(collection: Any, times: int) -> None:
        for _ in range(times):
            await collection.update_one({"_id": "hot", "tenant": "t1"}, {"$inc": {"count": 1}})

    # 8 writers per client, 2 clients: interleaved read-change-write cycles on one document
    await asyncio.gather(*(bump(c, 15) for c in (first, second) for _ in range(8)))

    document = await first.find_one({"_id": "hot"})
    assert document is not None
    assert document["count"] == 2 * 8 * 15


async def test_a_version_guarded_update_wins_once_however_many_race(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    first, second = (client[_DB]["goals"] for client in clients)
    await first.insert_one({"_id": "g1", "tenant": "t1", "version": 0, "applied": []})

    async def claim(collection: Any, n: int) -> int:
        result = await collection.update_one(
            {"_id": "g1", "tenant": "t1", "version": 0},
            {"$inc": {"version": 1}, "$push": {"applied": {"$each": [n]}}},
        )
        return int(result.modified_count)

    wins = await asyncio.gather(*(claim((first, second)[n % 2], n) for n in range(40)))

    document = await first.find_one({"_id": "g1"})
    assert sum(wins) == 1
    assert document is not None
    assert document["version"] == 1
    assert len(document["applied"]) == 1


async def test_find_one_and_update_returns_the_state_it_replaced_under_contention(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    # a sequence handed out by find_one_and_update must never hand out one value twice
    first, second = (client[_DB]["sequences"] for client in clients)
    await first.insert_one({"_id": "seq", "next": 0})

    async def take(collection: Any) -> int:
        before = await collection.find_one_and_update({"_id": "seq"}, {"$inc": {"next": 1}})
        return int(before["next"])

    taken = await asyncio.gather(*(take((first, second)[n % 2]) for n in range(60)))

    assert sorted(taken) == list(range(60))


async def test_lookups_by_id_use_the_id_index_on_ferretdb_postgresql(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    if not await _is_ferretdb_on_postgresql(clients[0]):
        pytest.skip("the plan's shape is FerretDB-on-PostgreSQL's; MongoDB uses its indexes")
    db = clients[0][_DB]
    await db["goals"].insert_many([{"_id": f"g{i}", "tenant": "t1"} for i in range(50)])

    for filter_ in (
        {"_id": "g7"},
        {"_id": "g7", "tenant": "t1"},
        {"_id": {"$in": ["g1", "g2", "g3"]}, "tenant": "t1"},
    ):
        plan = await db.command({"explain": {"find": "goals", "filter": filter_}})
        text = json.dumps(plan.get("queryPlanner", {}), default=str)
        assert plan.get("filterPushdown") is True, filter_
        assert "Index Scan" in text or "Bitmap Index" in text, (filter_, text[:400])

    found = await db["goals"].find({"_id": {"$in": ["g1", "g2", "nope"]}, "tenant": "t1"}).to_list()
    assert sorted(d["_id"] for d in found) == ["g1", "g2"]


async def test_concurrent_upserts_of_one_id_all_count_and_none_fails(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    # an upsert that loses the race to insert must update what the winner inserted (as MongoDB
    # retries it), not fail with a duplicate key: e.g. two goals saving one KPI binding key
    first, second = (client[_DB]["bindings"] for client in clients)

    async def upsert(collection: Any) -> None:
        await collection.update_one({"_id": "key"}, {"$inc": {"n": 1}}, upsert=True)

    await asyncio.gather(*(upsert((first, second)[n % 2]) for n in range(30)))

    document = await first.find_one({"_id": "key"})
    assert document is not None
    assert document["n"] == 30


async def test_exists_filters_select_exactly_and_reach_postgresql(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    # the outbox relay's filter: upstream FerretDB decoded every document of the collection
    db = clients[0][_DB]
    await db["outbox"].insert_many(
        [
            {"_id": "events", "pending_events": [{"id": "e1"}]},
            {"_id": "emptied", "pending_events": []},
            {"_id": "none"},
            {"_id": "object", "pending_events": {"0": "x"}},
            {"_id": "null-first", "pending_events": [None]},
        ]
    )

    pending = await db["outbox"].find({"pending_events.0": {"$exists": True}}).to_list()
    present = await db["outbox"].find({"pending_events": {"$exists": True}}).to_list()

    assert sorted(d["_id"] for d in pending) == ["events", "null-first", "object"]
    assert sorted(d["_id"] for d in present) == ["emptied", "events", "null-first", "object"]
    if await _is_ferretdb_on_postgresql(clients[0]):
        for filter_ in (
            {"pending_events.0": {"$exists": True}},
            {"pending_events": {"$exists": True}},
        ):
            plan = await db.command({"explain": {"find": "outbox", "filter": filter_}})
            assert plan.get("filterPushdown") is True, filter_


async def test_the_outbox_poll_reads_only_documents_with_events_through_the_sparse_index(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    db = clients[0][_DB]
    collection = db["aggregates"]
    await ensure_outbox_index(collection)
    await collection.insert_many(
        [{"_id": f"a{i}", "tenant": "t1", "pending_events": []} for i in range(1500)]
    )
    await collection.insert_many(
        [{"_id": f"e{i}", "tenant": "t1", "pending_events": [{"id": f"ev{i}"}]} for i in range(3)]
    )

    found = await collection.find(HAS_PENDING, {"_id": 1}).to_list()

    assert sorted(d["_id"] for d in found) == ["e0", "e1", "e2"]
    indexes = {i["name"]: i for i in await (await collection.list_indexes()).to_list()}
    assert indexes["outbox_pending"].get("sparse") is True
    if await _is_ferretdb_on_postgresql(clients[0]):
        # collStats makes FerretDB ANALYZE the table, as autovacuum does on a live collection:
        # the index's statistics tell the planner how few documents have events
        await db.command({"collStats": "aggregates"})
        plan = await db.command({"explain": {"find": "aggregates", "filter": HAS_PENDING}})
        text = json.dumps(plan.get("queryPlanner", {}), default=str)
        assert "Index Scan" in text or "Bitmap Index" in text, text[:400]


async def test_ranges_or_and_missing_fields_select_exactly_what_mongodb_would(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    # the shapes the schedulers and the delivery worker poll with; pushed down to PostgreSQL on
    # the local store, where the result must still be exactly MongoDB's
    db = clients[0][_DB]
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    docs = [
        {"_id": "due", "status": "pending", "due_at": now - timedelta(seconds=1)},
        {"_id": "at-now", "status": "pending", "due_at": now},
        {"_id": "later", "status": "pending", "due_at": now + timedelta(minutes=1)},
        {"_id": "lease-out", "status": "sending", "lease_until": now - timedelta(minutes=1)},
        {"_id": "leased", "status": "sending", "lease_until": now + timedelta(minutes=1)},
        {"_id": "no-check", "status": "active"},
        {"_id": "checked", "status": "active", "check_at": now - timedelta(days=1)},
        {"_id": "not-yet", "status": "active", "check_at": now + timedelta(days=1)},
        {"_id": "number", "status": "pending", "due_at": 5},
        {"_id": "text", "status": "pending", "due_at": "yesterday"},
        {"_id": "listed", "status": "pending", "due_at": [now + timedelta(days=9), now]},
        {"_id": "score", "n": 0.30000000000000004},
    ]
    await db["polls"].insert_many(docs)
    claimable = {
        "$or": [
            {"status": "pending", "due_at": {"$lte": now}},
            {"status": "sending", "lease_until": {"$lte": now}},
        ]
    }
    reminders = {
        "status": "active",
        "$or": [{"check_at": {"$lte": now}}, {"check_at": {"$exists": False}}],
    }

    async def ids(filter_: dict[str, Any]) -> list[str]:
        return sorted(d["_id"] for d in await db["polls"].find(filter_, {"_id": 1}).to_list())

    assert await ids(claimable) == ["at-now", "due", "lease-out", "listed"]
    assert await ids(reminders) == ["checked", "no-check"]
    assert await ids({"due_at": {"$gt": now}}) == ["later", "listed"]
    assert await ids({"due_at": {"$lt": 6}}) == ["number"]
    assert await ids({"n": {"$gte": 0.30000000000000004}}) == ["score"]
    # strings compare byte by byte (ISO dates kept as text, as reviews due "on or before today")
    assert await ids({"due_at": {"$lte": "z"}}) == ["text"]
    # the oldest applied-id guard before a time: an array's first element
    assert await ids({"due_at.0": {"$lt": now + timedelta(days=1)}}) == []
    assert await ids({"due_at.1": {"$lte": now}}) == ["listed"]
    if await _is_ferretdb_on_postgresql(clients[0]):
        for filter_ in (claimable, reminders):
            plan = await db.command({"explain": {"find": "polls", "filter": filter_}})
            text = json.dumps(plan.get("queryPlanner", {}), default=str)
            assert "OR" in text, text[:400]  # the $or reached PostgreSQL


async def test_in_on_a_field_selects_exactly_what_mongodb_would_and_reaches_postgresql(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    # the shape of notifications' reminder suppression: refs named once in a $in, where the
    # $or of one branch per ref made PostgreSQL read the field (and decompress a large
    # document) once a branch
    db = clients[0][_DB]
    oid = ObjectId()
    docs = [
        {"_id": "a", "ref": "goal:1:update"},
        {"_id": "b", "ref": "goal:2:update"},
        {"_id": "listed", "ref": ["x", "goal:2:update"]},
        {"_id": "nested", "ref": {"goal:1:update": 1}},
        {"_id": "number", "ref": 1},
        {"_id": "none", "ref": None},
        {"_id": "missing"},
        {"_id": "oid", "ref": oid},
    ]
    await db["refs"].insert_many(docs)

    async def ids(filter_: dict[str, Any]) -> list[str]:
        return sorted(d["_id"] for d in await db["refs"].find(filter_, {"_id": 1}).to_list())

    wanted = {"ref": {"$in": ["goal:1:update", "goal:2:update"]}}
    assert await ids(wanted) == ["a", "b", "listed"]
    assert await ids({"ref": {"$in": [oid]}}) == ["oid"]
    assert await ids({"ref": {"$in": ["goal:1:update", 1, None]}}) == [
        "a",
        "missing",
        "none",
        "number",
    ]
    assert await ids({"ref": {"$in": []}}) == []
    if await _is_ferretdb_on_postgresql(clients[0]):
        plan = await db.command({"explain": {"find": "refs", "filter": wanted}})
        text = json.dumps(plan.get("queryPlanner", {}), default=str)
        assert "ANY" in text, text[:400]  # the $in reached PostgreSQL


async def test_equality_on_indexed_fields_uses_the_index_on_ferretdb_postgresql(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    db = clients[0][_DB]
    items = db["items"]
    await items.create_index([("tenant", 1), ("recipient_id", 1), ("ref", 1)])
    await items.insert_many(
        [
            {"_id": f"i{i}", "tenant": f"t{i % 4}", "recipient_id": f"p{i % 50}", "ref": f"r{i}"}
            for i in range(2000)
        ]
        + [{"_id": "listed", "tenant": "t1", "recipient_id": ["p7", "p8"], "ref": "x"}]
    )
    wanted = {"tenant": "t1", "recipient_id": "p7"}

    found = await items.find(wanted, {"_id": 1}).to_list()

    # i % 4 == 1 and i % 50 == 7: i = 57, 157, ... (every 100th from 57); and the document
    # whose recipient_id is an array holding p7, as in MongoDB
    assert sorted(d["_id"] for d in found) == sorted(
        [f"i{i}" for i in range(57, 2000, 100)] + ["listed"]
    )
    if await _is_ferretdb_on_postgresql(clients[0]):
        await db.command({"collStats": "items"})
        plan = await db.command({"explain": {"find": "items", "filter": wanted}})
        text = json.dumps(plan.get("queryPlanner", {}), default=str)
        assert "Bitmap Index" in text or "Index Scan" in text, text[:400]


async def test_equality_on_a_unique_indexs_fields_uses_an_index_and_its_twin_goes_with_it(
    clients: tuple[AsyncMongoClient[Doc], ...],
) -> None:
    """A unique index serves lookups on its fields, as on MongoDB: on the local FerretDB through
    a GIN twin (its own B-tree of expressions serves no containment), dropped with it."""
    db = clients[0][_DB]
    keyed = db["keyed"]
    await keyed.create_index([("tenant", 1), ("key", 1)], unique=True, name="by_key")
    await keyed.insert_many(
        [{"_id": f"k{i}", "tenant": f"t{i % 4}", "key": f"key{i}"} for i in range(3000)]
    )
    wanted = {"tenant": "t1", "key": "key57"}

    assert [d["_id"] async for d in keyed.find(wanted, {"_id": 1})] == ["k57"]
    with pytest.raises(DuplicateKeyError):
        await keyed.insert_one({"_id": "again", "tenant": "t1", "key": "key57"})
    if not await _is_ferretdb_on_postgresql(clients[0]):
        return
    await db.command({"collStats": "keyed"})
    plan = await db.command({"explain": {"find": "keyed", "filter": wanted}})
    text = json.dumps(plan.get("queryPlanner", {}), default=str)
    assert "Bitmap Index" in text or "Index Scan" in text, text[:400]

    await keyed.drop_index("by_key")
    await keyed.create_index([("tenant", 1), ("key", 1)], unique=True, name="by_key")
    plan = await db.command({"explain": {"find": "keyed", "filter": wanted}})
    assert "Index" in json.dumps(plan.get("queryPlanner", {}), default=str)  # made anew, twin too


async def test_many_concurrent_updates_and_upserts_all_finish(mongodb_uri: str) -> None:
    # more writers at once than FerretDB keeps PostgreSQL connections (50): an update that held
    # its query's connection while asking the pool for another deadlocked the whole store
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongodb_uri, maxPoolSize=300)
    try:
        collection = client[_DB]["crowd"]
        await collection.insert_many([{"_id": f"d{i}", "n": 0} for i in range(200)])

        async def write(i: int) -> None:
            await collection.update_one({"_id": f"d{i % 200}"}, {"$inc": {"n": 1}})
            await collection.update_one({"_id": f"u{i % 50}"}, {"$inc": {"n": 1}}, upsert=True)

        # a hang guard, not a time target: a deadlock never finishes
        await asyncio.wait_for(asyncio.gather(*(write(i) for i in range(400))), 120)
        # one command of 120 updates, as the outbox relay clears a round: FerretDB kept each
        # statement's query open until the command ended, 50 connections at the most
        await asyncio.wait_for(
            collection.bulk_write(
                [UpdateOne({"_id": f"d{i}"}, {"$inc": {"n": 1}}) for i in range(120)],
                ordered=False,
            ),
            60,
        )

        total = sum(d["n"] for d in await collection.find({}, {"n": 1}).to_list())
        assert total == 920
        assert (await client.admin.command("ping"))["ok"] == 1
    finally:
        await client.close()
