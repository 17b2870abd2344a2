"""Held outbox writes on the real broker and store: a hot writer publishes its own events and its
next save replaces them, so a change costs one write instead of two (the save and the relay's
clear), and nothing is lost when the writer dies between its save and its publish.

The writes go through the real helpers (``held_outbox``, ``with_outbox``) and the real relay and
``Outbox``; the aggregate is a bare document with a version, as every repository keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.config import CommonSettings
from shared.events import Envelope
from shared.messaging import EventProducer, OutboxRelay
from shared.messaging.outbox import (
    HELD,
    PENDING,
    RELAY_AFTER,
    Outbox,
    ensure_outbox_index,
    entries,
    held_outbox,
    unpacked,
    with_outbox,
)
from shared.mongo import update_versioned
from tests.integration.test_outbox_faults import point as new_point
from tests.integration.test_outbox_faults import published_ids
from tests.support import isolated_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings() -> CommonSettings:
    return isolated_settings(CommonSettings, service_name="outbox-held")


class Writer:
    """A hot writer of one aggregate: each change is one versioned update holding its events,
    published by the writer itself (the goals service's KPI path, reduced to its outbox)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], outbox: Outbox) -> None:
        self.collection = collection
        self.outbox = outbox
        self.writes = 0

    async def change(self, events: Sequence[Envelope], *, publish: bool = True) -> None:
        doc = await self.collection.find_one({"_id": "agg"})
        assert doc is not None
        await self.outbox.publish_held(entries(doc))  # what it does not know as published, first
        update = held_outbox({"$set": {"state": events[-1].id}}, events, self.outbox.relay_after())
        await update_versioned(self.collection, {"_id": "agg"}, doc["version"], update)
        self.writes += 1
        if publish:
            await self.outbox.publish_held(events)


async def new_aggregate(collection: AsyncCollection[dict[str, Any]]) -> None:
    await collection.insert_one({"_id": "agg", "tenant": "acme", "version": 1})


async def api_change(
    collection: AsyncCollection[dict[str, Any]], version: int, event: Envelope
) -> None:
    """A change through the API: its event joins the outbox for the relay (not held)."""
    update = with_outbox({"$set": {"state": "api"}}, [event])
    await update_versioned(collection, {"_id": "agg"}, version, update)


POINTS: dict[int, Envelope] = {}


def point(n: int) -> Envelope:
    """The n-th data point event of the module (the same envelope, id included, every call)."""
    return POINTS.setdefault(n, new_point(n))


def process(producer: EventProducer, collection: AsyncCollection[dict[str, Any]]) -> Outbox:
    """One service process: its outbox and the relay sharing what it published."""
    outbox = Outbox(producer, hold_s=30)
    outbox.relays.append(
        OutboxRelay(collection, producer, service="test", published=outbox.published)
    )
    return outbox


async def test_a_hot_writer_publishes_each_event_once_and_its_next_save_clears_them(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    aggregates = db["aggregates"]
    await new_aggregate(aggregates)
    outbox = process(producer, aggregates)
    relay = outbox.relays[0]
    writer = Writer(aggregates, outbox)
    changes = [[point(1), point(2)], [point(3)], [point(4)]]

    for events in changes:
        await writer.change(events)
        assert await relay.relay_once() == 0  # held: the relay neither publishes nor clears
        assert await relay.expire_holds() == 0

    doc = await aggregates.find_one({"_id": "agg"})
    assert doc is not None
    # each save replaced the entries before it: the outbox holds the last change's events only,
    # and the aggregate was written once per change (no clearing write between them)
    assert [unpacked(entry).id for entry in doc[HELD]] == [point(4).id]
    assert doc["version"] == 1 + len(changes) == 1 + writer.writes
    assert await outbox.settled()  # everything held was published
    ids = [e.id for events in changes for e in events]
    assert await published_ids(settings) == ids  # once each, in order

    # the writer goes quiet: once the hold has passed, the relay clears without publishing
    assert await relay.expire_holds(now=datetime.now(UTC) + timedelta(seconds=31)) == 1
    doc = await aggregates.find_one({"_id": "agg"})
    assert doc is not None
    assert HELD not in doc
    assert RELAY_AFTER not in doc
    assert await published_ids(settings) == ids


async def test_a_writer_dying_between_its_save_and_its_publish_loses_nothing(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    aggregates = db["aggregates"]
    await new_aggregate(aggregates)
    dead = Writer(aggregates, process(producer, aggregates))
    await dead.change([point(1), point(2)], publish=False)  # saved, then killed

    # the restarted process knows nothing of them: its next save publishes them first, in order
    restarted = process(producer, aggregates)
    assert not await restarted.settled()
    writer = Writer(aggregates, restarted)
    await writer.change([point(3)])
    assert await published_ids(settings) == [point(1).id, point(2).id, point(3).id]

    # and a writer that dies and never comes back: another replica's relay publishes its
    # events once the hold has passed (point 3, published and replaced, is not among them)
    await writer.change([point(4)], publish=False)
    relay = process(producer, aggregates).relays[0]
    assert await relay.expire_holds() == 0  # still held
    assert await relay.expire_holds(now=datetime.now(UTC) + timedelta(seconds=31)) == 1
    assert await published_ids(settings) == [point(n).id for n in (1, 2, 3, 4)]
    doc = await aggregates.find_one({"_id": "agg"})
    assert doc is not None
    assert HELD not in doc


async def test_an_ordinary_write_beside_a_hold_is_relayed_at_once_in_order(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    aggregates = db["aggregates"]
    await new_aggregate(aggregates)
    dead = Writer(aggregates, process(producer, aggregates))
    await dead.change([point(1)], publish=False)  # held, and its writer died
    # a change through the API on another replica: its event must not wait out the hold, nor
    # overtake the held one
    outbox = process(producer, aggregates)
    await api_change(aggregates, 2, point(2))
    assert not await outbox.settled()
    assert await outbox.relays[0].relay_once() == 1
    assert await published_ids(settings) == [point(1).id, point(2).id]
    doc = await aggregates.find_one({"_id": "agg"})
    assert doc is not None
    assert doc[PENDING] == []
    assert [unpacked(entry).id for entry in doc[HELD]] == [point(1).id]  # left to its hold
    assert await outbox.settled()

    # the next held save finds both published and replaces them: nothing published twice
    await Writer(aggregates, outbox).change([point(3)])
    assert await published_ids(settings) == [point(n).id for n in (1, 2, 3)]


async def test_every_replica_starting_its_relay_finds_the_indexes_in_place(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    # the second start finds both indexes (FerretDB 1.24 dropped the connection when one
    # createIndexes named several indexes that all existed: every restart failed)
    for _ in range(2):
        await ensure_outbox_index(db["aggregates"])
    names = {index["name"] async for index in await db["aggregates"].list_indexes()}
    assert {"outbox_pending", "outbox_held"} <= names


async def test_a_held_save_takes_over_the_pending_events_it_published(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    aggregates = db["aggregates"]
    await new_aggregate(aggregates)
    outbox = process(producer, aggregates)
    # a change through the API, not relayed yet; then the hot writer's next change
    await api_change(aggregates, 1, point(1))
    await Writer(aggregates, outbox).change([point(2)])

    assert await published_ids(settings) == [point(1).id, point(2).id]
    doc = await aggregates.find_one({"_id": "agg"})
    assert doc is not None
    assert doc[PENDING] == []  # published by the writer and cleared by its save: no relay write
    assert [unpacked(entry).id for entry in doc[HELD]] == [point(2).id]
    assert await outbox.relays[0].relay_once() == 0
