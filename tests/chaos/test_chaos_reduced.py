"""The reduced fault suite `make test` runs: the same invariants as `make chaos`, shorter faults,
and the outbox relay across a real broker stop.

One private Kafka broker and document store for the module (never the shared servers); each
scenario starts its own services as processes, with its own topics and databases.
`python -m tests.chaos.run` runs every scenario at full length.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from shared.config import CommonSettings
from shared.events import Envelope, new_event, topics
from shared.events.kpi import KpiDatapointRecorded
from shared.messaging import EventProducer, OutboxRelay, ensure_topics
from shared.messaging.outbox import HAS_PENDING, with_outbox
from tests.chaos.base import REDUCED
from tests.chaos.harness import Cluster, log
from tests.chaos.run import run_one
from tests.support import eventually, isolated_settings, read_topic_to_end

pytestmark = [
    pytest.mark.integration,
    pytest.mark.chaos,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(240),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    async with Cluster() as private:
        yield private


async def passes(cluster: Cluster, name: str) -> None:
    result = await run_one(cluster, name, REDUCED)
    assert result.passed, result.summary()


async def test_forged_stale_and_replayed_signatures_are_401_and_record_nothing(
    cluster: Cluster,
) -> None:
    await passes(cluster, "signatures")


async def test_every_point_answered_202_is_in_kafka_after_kill_9_of_the_ingest(
    cluster: Cluster,
) -> None:
    await passes(cluster, "kill-ingest")


async def test_goal_progress_counts_each_distinct_point_once_across_a_kill_9_of_goals(
    cluster: Cluster,
) -> None:
    await passes(cluster, "kill-goals")


async def test_a_stopped_broker_gives_503_never_a_202_without_records_and_loses_nothing(
    cluster: Cluster,
) -> None:
    await passes(cluster, "broker-outage")


async def test_poison_records_land_in_the_dlq_once_per_group_and_nothing_else_does(
    cluster: Cluster,
) -> None:
    await passes(cluster, "poison")


async def test_a_stopped_document_store_pauses_consumers_dead_letters_nothing_loses_nothing(
    cluster: Cluster,
) -> None:
    await passes(cluster, "store-outage")


# ---------------------------------------------------------------- the outbox relay, broker down


def event(aggregate: str, n: int) -> Envelope:
    payload = KpiDatapointRecorded(
        id=f"{aggregate}-{n}",
        tenant="acme",
        metric="adoption_rate",
        value=float(n),
        timestamp=datetime(2026, 11, 1, tzinfo=UTC),
        source_id="src",
        source_event_id=f"{aggregate}-{n}",
    )
    return new_event(payload, tenant="acme", subject=aggregate, source="test")


def pending_seen(settings: CommonSettings) -> float:
    """How many documents with events the relay's latest round read (and went on to publish)."""
    labels = {"service": settings.service_name, "collection": "aggregates"}
    return REGISTRY.get_sample_value("northstar_outbox_pending_documents", labels) or 0.0


async def test_events_written_while_the_broker_is_stopped_are_published_once_after_it_returns(
    cluster: Cluster,
) -> None:
    """The real relay loop and producer against the private broker, which is stopped (SIGTERM)
    and started again on its data. The idempotent producer does not give up on an unacked
    batch, so the relay's round waits in its publish for the broker: the events written
    meanwhile stay in their documents, then each is on the topic exactly once, in its
    aggregate's order."""
    settings = isolated_settings(
        CommonSettings,
        service_name="outbox-broker-down",
        kafka_bootstrap_servers=cluster.bootstrap,
        mongodb_uri=cluster.mongodb_uri,
    )
    await ensure_topics(settings, [topics.KPI_DATAPOINTS])
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    aggregates = mongo[settings.mongodb_database]["aggregates"]
    producer = EventProducer(settings)
    await producer.start()
    relay = OutboxRelay(aggregates, producer, service=settings.service_name, poll_interval_s=0.1)
    written: dict[str, list[str]] = {}

    async def write(aggregate: str, *events: Envelope) -> None:
        await aggregates.update_one(
            {"_id": aggregate},
            with_outbox({"$set": {"tenant": "acme"}, "$inc": {"version": 1}}, events),
            upsert=True,
        )
        written.setdefault(aggregate, []).extend(e.id for e in events)
        relay.notify()

    async def settled() -> bool:
        return await aggregates.find_one(HAS_PENDING, {"_id": 1}) is None

    await relay.start()
    try:
        await write("agg-a", event("agg-a", 1))
        await eventually(settled, timeout=30)  # published while the broker is up
        await eventually(lambda: pending_seen(settings) == 0)

        started = time.monotonic()
        await cluster.stop_broker()
        log(f"outbox: broker stopped in {time.monotonic() - started:.1f}s")
        try:
            await write("agg-a", event("agg-a", 2), event("agg-a", 3))
            await write("agg-b", event("agg-b", 1))
            # a round read them and is publishing to the stopped broker...
            await eventually(lambda: pending_seen(settings) >= 1)
            await write("agg-b", event("agg-b", 2))  # ...while writes go on
            await write("agg-c", event("agg-c", 1))
            pending = {
                doc["_id"]: [e["id"] for e in doc["pending_events"]]
                async for doc in aggregates.find(HAS_PENDING)
            }
            assert (
                pending
                == {  # nothing unacked was removed
                    "agg-a": written["agg-a"][1:],
                    "agg-b": written["agg-b"],
                    "agg-c": written["agg-c"],
                }
            )
            assert not await producer.healthy()  # the broker really is gone
        finally:
            down = time.monotonic()
            await cluster.start_broker()
            log(f"outbox: broker back in {time.monotonic() - down:.1f}s")
        await eventually(settled, timeout=90)
        log(f"outbox: relayed {time.monotonic() - started:.1f}s after the stop began")
    finally:
        await relay.stop()
        await producer.stop()
        await mongo.drop_database(settings.mongodb_database)
        await mongo.close()

    # the relay is stopped: the topic up to its end holds everything it will ever publish
    records = await read_topic_to_end(settings, topics.KPI_DATAPOINTS)
    ids = [dict(r.headers)["ce_id"].decode() for r in records]
    assert sorted(ids) == sorted(i for events in written.values() for i in events)  # once each
    for events in written.values():
        assert [i for i in ids if i in events] == events  # in order (one key, one partition)
