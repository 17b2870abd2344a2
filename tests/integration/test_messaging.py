"""The messaging library on the real broker and document store."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from pymongo.asynchronous.database import AsyncDatabase

from shared.config import CommonSettings
from shared.events import from_record, new_event, topics
from shared.events.kpi import KpiDatapointRecorded
from shared.events.people import PersonUpserted
from shared.messaging import ConsumerRunner, EventProducer, OutboxRelay, Router
from shared.messaging.outbox import with_outbox
from tests.support import eventually, isolated_settings, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
def settings() -> CommonSettings:
    return isolated_settings(CommonSettings, service_name="messaging-test")


async def read_all(
    settings: CommonSettings, topic: str, expected: int, timeout: float = 15.0
) -> list[Any]:
    return await read_topic(
        settings, topic, enough=lambda records: len(records) >= expected, timeout=timeout
    )


def datapoint(n: int, tenant: str = "acme") -> Any:
    payload = KpiDatapointRecorded(
        id=f"dp-{n}",
        tenant=tenant,
        metric="adoption_rate",
        value=float(n),
        timestamp=datetime(2026, 11, 1, tzinfo=UTC),
        dimensions={"product": "mobile"},
        source_id="src-1",
        source_event_id=f"evt-{n}",
    )
    return new_event(
        payload,
        tenant=tenant,
        subject=f"{tenant}:adoption_rate",
        source="northstar/kpi-ingest",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )


async def test_record_parses_with_the_cloudevents_sdk_with_every_attribute(
    settings: CommonSettings, producer: EventProducer
) -> None:
    event = datapoint(1)
    await producer.publish(event)
    [record] = await read_all(settings, topics.KPI_DATAPOINTS, 1)

    message = KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    parsed = from_binary_event(message)

    assert parsed.get_specversion() == "1.0"
    assert parsed.get_id() == event.id
    assert parsed.get_type() == "northstar.kpi.datapoint.recorded.v1"
    assert parsed.get_source() == "northstar/kpi-ingest"
    assert parsed.get_subject() == "acme:adoption_rate"
    assert parsed.get_datacontenttype() == "application/json"
    assert parsed.get_time() == event.time.replace(microsecond=event.time.microsecond)
    assert parsed.get_extension("tenant") == "acme"
    assert parsed.get_extension("partitionkey") == "acme:adoption_rate"
    assert parsed.get_extension("traceparent") == event.traceparent
    data = parsed.get_data()
    assert isinstance(data, dict)
    assert data["metric"] == "adoption_rate"
    assert data["value"] == 1.0
    assert record.key == b"acme:adoption_rate"


async def test_outbox_relay_publishes_exactly_the_stored_events(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    goals = db["aggregates"]
    stored = [datapoint(n) for n in range(3)]
    await goals.insert_one({"_id": "agg-1", "tenant": "acme", "version": 1})
    await goals.update_one({"_id": "agg-1"}, with_outbox({"$set": {"state": "x"}}, stored[:2]))
    await goals.insert_one(
        {
            "_id": "agg-2",
            "tenant": "acme",
            "version": 1,
            "pending_events": [stored[2].to_document()],
        }
    )
    relay = OutboxRelay(goals, producer, service="test")

    await relay.drain()

    records = await read_all(settings, topics.KPI_DATAPOINTS, 3)
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == sorted(
        e.id for e in stored
    )
    assert await goals.count_documents({"pending_events.0": {"$exists": True}}) == 0
    doc = await goals.find_one({"_id": "agg-1"})
    assert doc is not None
    assert doc["state"] == "x"


class CountingProjection:
    """An idempotent effect: count each event id once in the document store."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["effects"]
        self.calls = 0

    def router(self, fail_on: set[str] | None = None) -> Router:
        router = Router()

        @router.on(KpiDatapointRecorded)
        async def on_datapoint(event: Any, payload: KpiDatapointRecorded) -> None:
            self.calls += 1
            if payload.id in (fail_on or set()):
                raise ValueError(f"cannot handle {payload.id}")
            await self.collection.update_one(
                {"_id": payload.metric, "applied": {"$ne": event.id}},
                {"$inc": {"total": payload.value}, "$push": {"applied": event.id}},
                upsert=False,
            )

        return router

    async def total(self) -> float:
        doc = await self.collection.find_one({"_id": "adoption_rate"})
        return float(doc["total"]) if doc else 0.0


# the relay crashing between publish and removal: tests/integration/test_outbox_faults.py


async def test_poison_record_goes_to_the_dlq_and_the_consumer_goes_on(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    projection = CountingProjection(db)
    await projection.collection.insert_one({"_id": "adoption_rate", "total": 0, "applied": []})
    await producer.publish(datapoint(1))
    poison = datapoint(2)
    await producer.publish(poison)
    # not even a CloudEvent: unreadable bytes with no headers
    await producer.send_raw(
        settings.topic(topics.KPI_DATAPOINTS),
        key=b"acme:adoption_rate",
        value=b"\xff not json",
        headers=[],
    )
    await producer.publish(datapoint(3))
    runner = ConsumerRunner(
        settings,
        group="dlq-test",
        router=projection.router({"dp-2"}),
        producer=producer,
        max_backoff_s=0.2,
    )
    await runner.start()
    try:
        await eventually(lambda: _total_is(projection, 4.0))
    finally:
        await runner.stop()

    dead = await read_all(settings, topics.dlq(topics.KPI_DATAPOINTS), 2)
    assert len(dead) == 2
    by_id = {dict(r.headers).get("ce_id", b"").decode(): dict(r.headers) for r in dead}
    headers = by_id[poison.id]
    assert headers["dlq_error_type"] == b"ValueError"
    assert b"cannot handle dp-2" in headers["dlq_error"]
    assert headers["dlq_original_topic"] == settings.topic(topics.KPI_DATAPOINTS).encode()
    assert headers["dlq_consumer_group"] == b"dlq-test"
    assert int(headers["dlq_original_offset"]) >= 0
    assert by_id[""]["dlq_error_type"] == b"MalformedEvent"


async def _total_is(projection: CountingProjection, expected: float) -> bool:
    return await projection.total() == expected


async def test_consumer_stopped_before_commit_gets_the_record_again_and_applies_it_once(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    projection = CountingProjection(db)
    await projection.collection.insert_one({"_id": "adoption_rate", "total": 0, "applied": []})
    await producer.publish(datapoint(5))

    class CrashBeforeCommit(ConsumerRunner):
        async def _commit_processed(self) -> None:
            self._uncommitted.clear()  # the process dies before the commit reaches the broker

    crashing = CrashBeforeCommit(
        settings, group="crash", router=projection.router(), producer=producer
    )
    await crashing.start()
    try:
        await eventually(lambda: projection.calls >= 1)
    finally:
        await crashing.stop()
    assert await projection.total() == 5.0

    restarted = ConsumerRunner(
        settings, group="crash", router=projection.router(), producer=producer
    )
    await restarted.start()
    try:
        await eventually(lambda: projection.calls >= 2)
    finally:
        await restarted.stop()
    assert await projection.total() == 5.0  # delivered twice, counted once


async def test_person_payload_round_trips_through_the_broker(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    seen: list[PersonUpserted] = []
    router = Router()

    @router.on(PersonUpserted)
    async def on_person(event: Any, payload: PersonUpserted) -> None:
        seen.append(payload)

    person = PersonUpserted(id="p1", tenant="acme", user_name="ada@acme.test", active=True)
    await producer.publish(
        new_event(person, tenant="acme", subject="p1", source="northstar/people")
    )
    runner = ConsumerRunner(settings, group="people-proj", router=router, producer=producer)
    await runner.start()
    try:
        await eventually(lambda: seen)
    finally:
        await runner.stop()
    assert seen == [person]


async def test_partitions_of_a_fetch_are_processed_concurrently_each_in_order(
    settings: CommonSettings, producer: EventProducer
) -> None:
    partitioner = DefaultPartitioner()
    by_partition: dict[int, list[str]] = {}
    for i in range(50):
        subject = f"acme:series-{i}"
        by_partition.setdefault(partitioner(subject.encode(), [0, 1], [0, 1]), []).append(subject)
    slow, fast = by_partition[0][0], by_partition[1][0]
    fast_handled = asyncio.Event()
    slow_waited: list[bool] = []
    seen: dict[str, list[float]] = {}
    router = Router()

    @router.on(KpiDatapointRecorded)
    async def handle(event: Any, payload: KpiDatapointRecorded) -> None:
        if event.subject == slow and not slow_waited:
            # sequential partitions would make this wait out: the fast one comes after
            try:
                await asyncio.wait_for(fast_handled.wait(), 10)
                slow_waited.append(True)
            except TimeoutError:
                slow_waited.append(False)
        if event.subject == fast:
            fast_handled.set()
        seen.setdefault(event.subject, []).append(payload.value)

    for n in range(5):
        for subject in (slow, fast):
            await producer.publish(dataclasses.replace(datapoint(n), subject=subject))
    runner = ConsumerRunner(settings, group="concurrent", router=router, producer=producer)
    await runner.start()
    try:
        await eventually(lambda: sum(len(v) for v in seen.values()) == 10, timeout=30)
    finally:
        await runner.stop()
    assert slow_waited == [True]
    assert seen == {slow: [0, 1, 2, 3, 4], fast: [0, 1, 2, 3, 4]}  # each partition in order


async def test_a_run_goes_to_the_batch_handler_and_a_failed_run_record_by_record(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    projection = CountingProjection(db)
    await projection.collection.insert_one({"_id": "adoption_rate", "total": 0, "applied": []})
    router = projection.router(fail_on={"dp-7"})
    runs: list[list[str]] = []

    @router.on_batch(KpiDatapointRecorded)
    async def on_datapoints(run: list[tuple[Any, KpiDatapointRecorded]]) -> None:
        runs.append([payload.id for _, payload in run])
        if any(payload.id == "dp-7" for _, payload in run):
            raise ValueError("a run holding dp-7")
        for event, payload in run:
            await projection.collection.update_one(
                {"_id": payload.metric, "applied": {"$ne": event.id}},
                {"$inc": {"total": payload.value}, "$push": {"applied": event.id}},
            )

    # published before the runner starts, all on one key: its first fetch holds them all
    for n in range(1, 21):
        await producer.publish(datapoint(n))
    runner = ConsumerRunner(
        settings,
        group="batch-test",
        router=router,
        producer=producer,
        max_backoff_s=0.2,
        max_batch=8,
    )
    await runner.start()
    try:
        await eventually(lambda: _total_is(projection, sum(range(1, 21)) - 7))
    finally:
        await runner.stop()

    assert max(len(run) for run in runs) == 8  # runs, cut at max_batch
    assert [n for run in runs for n in run if n != "dp-7"] == sorted(
        {f"dp-{n}" for n in range(1, 21)} - {"dp-7"}, key=lambda i: int(i[3:])
    )
    # the run holding dp-7 failed and went record by record: its records through the `on`
    # handler (dp-7 three times, then to the dead letters), the others counted once
    [failed] = [run for run in runs if "dp-7" in run]
    assert projection.calls == len(failed) - 1 + 3
    dead = await read_all(settings, topics.dlq(topics.KPI_DATAPOINTS), 1)
    assert [from_record(r.value, list(r.headers)).payload().id for r in dead] == ["dp-7"]


async def test_types_the_router_does_not_handle_are_skipped_unread_and_their_offsets_committed(
    settings: CommonSettings, producer: EventProducer, db: AsyncDatabase[dict[str, Any]]
) -> None:
    """Told by the type header alone: a body nobody could read is not dead-lettered by a group
    that does not want its type, it does not cut a run of the type the group wants, and the
    group's committed offset passes it."""
    projection = CountingProjection(db)
    await projection.collection.insert_one({"_id": "adoption_rate", "total": 0, "applied": []})
    router = projection.router()
    runs: list[list[str]] = []

    @router.on_batch(KpiDatapointRecorded)
    async def on_datapoints(run: list[tuple[Any, KpiDatapointRecorded]]) -> None:
        runs.append([payload.id for _, payload in run])
        for _, payload in run:
            await projection.collection.update_one(
                {"_id": payload.metric}, {"$inc": {"total": payload.value}}
            )

    topic = settings.topic(topics.KPI_DATAPOINTS)
    unwanted = [("ce_specversion", b"1.0"), ("ce_type", b"northstar.kpi.stale.v1")]
    # published before the runner starts, all on one key (one partition, its first fetch)
    for n in range(1, 5):
        await producer.publish(datapoint(n))
        await producer.send_raw(topic, key=b"acme:adoption_rate", value=b"\xff", headers=unwanted)
    runner = ConsumerRunner(settings, group="skip-test", router=router, producer=producer)
    await runner.start()
    try:
        await eventually(lambda: _total_is(projection, 1 + 2 + 3 + 4))
    finally:
        await runner.stop()

    assert runs == [["dp-1", "dp-2", "dp-3", "dp-4"]]  # one run: the skipped did not cut it
    assert await read_all(settings, topics.dlq(topics.KPI_DATAPOINTS), 1, timeout=3) == []
    # without a group every partition is assigned, once the topic's metadata is known
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    await admin.start()
    try:
        partitions = await eventually(consumer.assignment, timeout=15)
        ends = {
            tp: end for tp, end in (await consumer.end_offsets(list(partitions))).items() if end
        }
        offsets = await admin.list_consumer_group_offsets(settings.topic("skip-test"))
        committed = {tp: offsets[tp].offset for tp in ends if tp in offsets}
    finally:
        await consumer.stop()
        await admin.close()
    assert sum(ends.values()) == 8
    assert committed == ends  # every record passed, the skipped last one included
