"""The outbox relay under faults, on the real broker and store, through its real code path.

The faults are injected around the relay, never instead of it: a publisher wrapper that lets the
real producer publish and then dies (or lets a use case write meanwhile, or reports the broker
down), so ``OutboxRelay.relay_once`` and its ``$pullAll`` run exactly as in production. The relay
across a real broker stop and restart is in tests/chaos/test_chaos_reduced.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.config import CommonSettings
from shared.errors import Unavailable
from shared.events import Envelope, new_event, topics
from shared.events.kpi import KpiDatapointRecorded
from shared.messaging import ConsumerRunner, EventProducer, OutboxRelay, Router
from shared.messaging.outbox import with_outbox
from tests.support import after_sentinel, eventually, isolated_settings, read_topic_to_end

pytestmark = pytest.mark.integration

PENDING = {"pending_events.0": {"$exists": True}}


@pytest.fixture
def settings() -> CommonSettings:
    return isolated_settings(CommonSettings, service_name="outbox-faults")


def point(n: int) -> Envelope:
    payload = KpiDatapointRecorded(
        id=f"dp-{n}",
        tenant="acme",
        metric="adoption_rate",
        value=float(n),
        timestamp=datetime(2026, 11, 1, tzinfo=UTC),
        source_id="src-1",
        source_event_id=f"evt-{n}",
    )
    return new_event(payload, tenant="acme", subject="acme:adoption_rate", source="test")


async def published_ids(settings: CommonSettings) -> list[str]:
    """Event ids on the data-point topic, read to its end (the relays here have returned, so
    everything they published is acknowledged and below it)."""
    records = await read_topic_to_end(settings, topics.KPI_DATAPOINTS)
    return [dict(r.headers)["ce_id"].decode() for r in records]


async def aggregate_with(
    collection: AsyncCollection[dict[str, Any]], events: Sequence[Envelope]
) -> None:
    await collection.insert_one({"_id": "agg", "tenant": "acme", "version": 1})
    await collection.update_one({"_id": "agg"}, with_outbox({"$set": {"state": "a"}}, events))


class AfterPublish:
    """The real producer publishes; then ``then`` runs (a crash, a concurrent write...)."""

    def __init__(self, producer: EventProducer, then: Callable[[], Awaitable[None]]) -> None:
        self._producer = producer
        self._then = then
        self.published: list[str] = []

    async def publish_many(self, envelopes: Sequence[Envelope], topic: str | None = None) -> None:
        await self._producer.publish_many(envelopes, topic)
        self.published += [e.id for e in envelopes]
        await self._then()


class ProcessDied(BaseException):
    """Not an Exception: nothing in the relay may catch it, as nothing survives a kill -9."""


async def test_a_crash_between_the_real_publish_and_the_removal_republishes_once_applied_once(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    aggregates = db["aggregates"]
    events = [point(1), point(2)]
    await aggregate_with(aggregates, events)

    async def die() -> None:
        raise ProcessDied

    dying = AfterPublish(producer, die)
    with pytest.raises(ProcessDied):
        await OutboxRelay(aggregates, dying, service="test").relay_once()
    assert dying.published == [e.id for e in events]  # the broker has them...
    assert await aggregates.count_documents(PENDING) == 1  # ...and the outbox still does

    await OutboxRelay(aggregates, producer, service="test").drain()  # the restarted process

    ids = [e.id for e in events]
    assert await published_ids(settings) == ids + ids  # at least once: twice, in order
    assert await aggregates.count_documents(PENDING) == 0

    # consumers idempotent on event id: the effect counts each event once
    effects = db["effects"]
    await effects.insert_one({"_id": "adoption_rate", "total": 0, "applied": []})
    router = Router()

    @router.on(KpiDatapointRecorded)
    async def on_point(event: Any, payload: KpiDatapointRecorded) -> None:
        await effects.update_one(
            {"_id": payload.metric, "applied": {"$ne": event.id}},
            {"$inc": {"total": payload.value}, "$push": {"applied": event.id}},
        )

    runner = ConsumerRunner(settings, group="effects", router=router, producer=producer)
    await runner.start()
    try:

        async def sentinel() -> None:
            await producer.publish(point(100))

        async def sentinel_applied() -> bool:
            doc = await effects.find_one({"_id": "adoption_rate"})
            return doc is not None and doc["total"] >= 100

        await after_sentinel(sentinel, sentinel_applied)
    finally:
        await runner.stop()
    doc = await effects.find_one({"_id": "adoption_rate"})
    assert doc is not None
    assert doc["total"] == 103  # 1 + 2 once each, + the sentinel


async def test_an_event_appended_between_the_read_and_the_removal_is_not_lost(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    aggregates = db["aggregates"]
    first, later = point(1), point(2)
    await aggregate_with(aggregates, [first])

    async def a_use_case_writes_meanwhile() -> None:
        # after the relay read the outbox and published it, before its $pullAll
        await aggregates.update_one({"_id": "agg"}, with_outbox({"$set": {"state": "b"}}, [later]))

    relay = OutboxRelay(
        aggregates, AfterPublish(producer, a_use_case_writes_meanwhile), service="t"
    )
    await relay.relay_once()

    doc = await aggregates.find_one({"_id": "agg"})
    assert doc is not None
    assert [e["id"] for e in doc["pending_events"]] == [later.id]  # removed only what it sent
    assert doc["state"] == "b"

    await OutboxRelay(aggregates, producer, service="test").drain()

    assert await published_ids(settings) == [first.id, later.id]  # each once
    assert await aggregates.count_documents(PENDING) == 0


class Broker:
    """The relay's publisher: the real producer, or a publish that raises Unavailable (as the
    producer does when it cannot even start a fresh client). A stopped real broker is in
    tests/chaos/test_chaos_reduced.py: there the idempotent producer waits instead of raising."""

    def __init__(self, producer: EventProducer) -> None:
        self._producer = producer
        self.down = True
        self.refused = 0

    async def publish_many(self, envelopes: Sequence[Envelope], topic: str | None = None) -> None:
        if self.down:
            self.refused += 1
            raise Unavailable("the event broker is not reachable")
        await self._producer.publish_many(envelopes, topic)


async def test_while_the_broker_is_down_events_stay_and_are_published_after(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    aggregates = db["aggregates"]
    events = [point(1), point(2), point(3)]
    await aggregate_with(aggregates, events)
    broker = Broker(producer)
    relay = OutboxRelay(aggregates, broker, service="test", poll_interval_s=0.05)
    await relay.start()  # the real background loop, which must survive the outage
    try:
        await eventually(lambda: broker.refused >= 3)  # three rounds met the outage
        doc = await aggregates.find_one({"_id": "agg"})
        assert doc is not None
        assert [e["id"] for e in doc["pending_events"]] == [e.id for e in events]

        broker.down = False
        relay.notify()

        async def drained() -> bool:
            return await aggregates.count_documents(PENDING) == 0

        await eventually(drained)
    finally:
        await relay.stop()

    assert await published_ids(settings) == [e.id for e in events]
