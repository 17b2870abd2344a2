"""``northstar dlq replay`` on the real broker, with topics of its own."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from shared.config import CommonSettings
from shared.events import Envelope, new_event, topics
from shared.events.kpi import KpiDatapointRecorded
from shared.messaging import ConsumerRunner, EventProducer, Router, ensure_topics
from shared.messaging.dlq import REPLAYED_FROM, replay
from tests.support import (
    after_sentinel,
    eventually,
    isolated_settings,
    read_topic,
    read_topic_to_end,
)

pytestmark = pytest.mark.integration

TOPIC = topics.KPI_DATAPOINTS


@pytest.fixture
def settings() -> CommonSettings:
    return isolated_settings(CommonSettings, service_name="dlq-replay-test")


@pytest.fixture
async def producer(settings: CommonSettings) -> AsyncIterator[EventProducer]:
    await ensure_topics(settings, [TOPIC], with_dlq=[TOPIC])
    producer = EventProducer(settings)
    await producer.start()
    yield producer
    await producer.stop()


def datapoint(n: int) -> Envelope:
    payload = KpiDatapointRecorded(
        id=f"dp-{n}",
        tenant="acme",
        metric="adoption_rate",
        value=float(n),
        timestamp=datetime(2026, 11, 1, tzinfo=UTC),
        dimensions={},
        source_id="src-1",
        source_event_id=f"evt-{n}",
    )
    return new_event(payload, tenant="acme", subject="acme:adoption_rate", source="northstar/kpi")


async def run_cli(settings: CommonSettings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "NORTHSTAR_TOPIC_PREFIX": settings.topic_prefix,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_replayed_record_reaches_the_fixed_consumer_once_and_stays_in_the_dlq(
    settings: CommonSettings, producer: EventProducer
) -> None:
    broken = {"dp-2"}
    handled: list[str] = []
    router = Router()

    @router.on(KpiDatapointRecorded)
    async def on_datapoint(event: Envelope, payload: KpiDatapointRecorded) -> None:
        if payload.id in broken:
            raise ValueError(f"cannot handle {payload.id}")
        handled.append(payload.id)

    runner = ConsumerRunner(
        settings, group="kpi-projection", router=router, producer=producer, max_backoff_s=0.2
    )
    await runner.start()
    try:
        for n in (1, 2, 3):
            await producer.publish(datapoint(n))
        await eventually(lambda: handled == ["dp-1", "dp-3"])
        await eventually(lambda: _dlq_size(settings, 1))

        broken.clear()  # the bug is fixed and deployed
        code, out, err = await run_cli(
            settings, "dlq", "replay", "--topic", f"{TOPIC}.dlq", "--since", "10m"
        )
        assert code == 0, err
        assert f"replayed 1 record(s) from {settings.topic(TOPIC)}.dlq" in out
        assert "ValueError: cannot handle dp-2" in out

        # dp-4 after the replayed record on the same key: once it is handled, so is anything
        # the replay would have delivered twice
        await after_sentinel(lambda: producer.publish(datapoint(4)), lambda: "dp-4" in handled)
        assert handled == ["dp-1", "dp-3", "dp-2", "dp-4"]
    finally:
        await runner.stop()
    # the replayed record stays in the DLQ, and was not dead-lettered again
    sentinel = datapoint(5)
    dlq = await records_up_to(
        settings, topics.dlq(TOPIC), sentinel, lambda: dead_letter(settings, producer, sentinel)
    )
    assert [orjson.loads(r.value)["id"] for r in dlq] == ["dp-2", "dp-5"]


async def records_up_to(
    settings: CommonSettings,
    topic: str,
    sentinel: Envelope,
    send_sentinel: Callable[[], Awaitable[Any]],
) -> list[Any]:
    """A topic's records once ``sentinel`` (sent on the same key, after them) shows up in it."""

    def has_sentinel(records: list[Any]) -> bool:
        return any(dict(r.headers)["ce_id"] == sentinel.id.encode() for r in records)

    async def arrived() -> list[Any] | None:
        records = await read_topic(settings, topic, enough=has_sentinel, timeout=5, linger_s=0.05)
        return records if has_sentinel(records) else None

    return list(await after_sentinel(send_sentinel, arrived))


async def _dlq_size(settings: CommonSettings, expected: int) -> bool:
    return len(await read_topic_to_end(settings, topics.dlq(TOPIC))) == expected


async def dead_letter(settings: CommonSettings, producer: EventProducer, event: Envelope) -> None:
    """Write a record into the DLQ the way the consumer runner does."""
    from shared.events.envelope import to_record

    key, value, headers = to_record(event)
    await producer.send_raw(
        settings.topic(topics.dlq(TOPIC)),
        key=key,
        value=value,
        headers=[
            *headers,
            ("dlq_error", b"ValueError: boom"),
            ("dlq_error_type", b"ValueError"),
            ("dlq_original_topic", settings.topic(TOPIC).encode()),
            ("dlq_consumer_group", b"goals-kpi"),
        ],
    )


async def test_replay_takes_only_records_dead_lettered_since_the_given_time(
    settings: CommonSettings, producer: EventProducer
) -> None:
    old, recent = datapoint(1), datapoint(2)
    await dead_letter(settings, producer, old)
    await asyncio.sleep(1.2)
    boundary = datetime.now(UTC)
    await asyncio.sleep(0.2)
    await dead_letter(settings, producer, recent)

    report = await replay(settings, TOPIC, boundary)

    assert [r.event_id for r in report.replayed] == [recent.id]
    sentinel = datapoint(3)
    record, _ = await records_up_to(settings, TOPIC, sentinel, lambda: producer.publish(sentinel))
    headers = dict(record.headers)
    assert headers["ce_id"] == recent.id.encode()
    assert record.key == b"acme:adoption_rate"
    assert not [name for name in headers if name.startswith("dlq_")]
    assert headers[REPLAYED_FROM].startswith(settings.topic(topics.dlq(TOPIC)).encode() + b"/")


async def test_dry_run_and_filters_publish_nothing_they_exclude(
    settings: CommonSettings, producer: EventProducer
) -> None:
    since = datetime.now(UTC)
    event = datapoint(1)
    await dead_letter(settings, producer, event)

    dry = await replay(settings, TOPIC, since, dry_run=True)
    other_group = await replay(settings, TOPIC, since, group="feedback-goals")
    other_type = await replay(settings, TOPIC, since, event_type="northstar.goal.created.v1")

    assert [r.event_id for r in dry.replayed] == [event.id]
    assert dry.replayed[0].group == "goals-kpi"
    assert (other_group.replayed, other_group.skipped) == ([], 1)
    assert (other_type.replayed, other_type.skipped) == ([], 1)
    sentinel = datapoint(2)
    published = await records_up_to(settings, TOPIC, sentinel, lambda: producer.publish(sentinel))
    assert [dict(r.headers)["ce_id"] for r in published] == [sentinel.id.encode()]


async def test_replay_of_a_topic_without_dlq_fails_with_a_clear_message(
    settings: CommonSettings,
) -> None:
    code, _, err = await run_cli(
        settings, "dlq", "replay", "--topic", "northstar.nothing.v1", "--since", "1h"
    )
    assert code == 1
    assert f"dead-letter topic {settings.topic('northstar.nothing.v1')}.dlq does not exist" in err
