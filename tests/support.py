"""Helpers every test module shares: isolated settings, running apps, tokens."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from shared.auth import issue_local_token
from shared.config import CommonSettings

S = TypeVar("S", bound=CommonSettings)

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGODB_URI = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")


def unique(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def isolated_settings(cls: type[S], run_id: str | None = None, **overrides: Any) -> S:
    """Settings on the real servers with their own topics and database.

    Services of one test share ``run_id`` so they see each other's topics. Outbox relays poll
    at the services' own default (0.5 s; a write wakes them at once): at the 0.1 s used before,
    six idle apps kept 0.52 of the machine's two cores busy instead of 0.27.
    """
    run_id = run_id or unique()
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": KAFKA,
        "mongodb_uri": MONGODB_URI,
        "topic_prefix": f"t{run_id}.",
        "topic_partitions": 2,
    }
    base = cls()
    values["mongodb_database"] = f"t{run_id}_{base.service_name}"
    values.update(overrides)
    return cls(**values)


@asynccontextmanager
async def running(app: FastAPI, *, drop_database: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (clients, relays, consumers) and give an HTTP client to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    if drop_database:
        settings: CommonSettings = app.state.settings
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
        try:
            await mongo.drop_database(settings.mongodb_database)
        finally:
            await mongo.close()


def bearer(
    tenant: str, sub: str, *roles: str, settings: CommonSettings | None = None
) -> dict[str, str]:
    """Authorization header with a local JWT."""
    token = issue_local_token(
        settings or CommonSettings(), tenant=tenant, sub=sub, roles=list(roles) or ["employee"]
    )
    return {"Authorization": f"Bearer {token}"}


async def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Poll an async or sync check until it returns a truthy value; fail after ``timeout``."""
    import asyncio
    import inspect
    import time

    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


async def after_sentinel(
    send_sentinel: Callable[[], Awaitable[Any]],
    sentinel_arrived: Callable[[], Any],
    timeout: float = 30.0,
) -> Any:
    """Absence shown by evidence: a sentinel on the duplicates' key, then wait for ITS effect.

    One key is one partition, consumed in order: once the sentinel's effect is visible, whatever
    the earlier records (the duplicates) were going to do has been done, so asserting "nothing
    happened twice" afterwards tests something (a sleep would pass on a slow runner untested).
    Returns what ``sentinel_arrived`` returned.
    """
    await send_sentinel()
    return await eventually(sentinel_arrived, timeout=timeout)


async def read_topic(
    settings: CommonSettings,
    topic: str,
    *,
    keep: Callable[[ConsumerRecord[bytes, bytes]], bool] = lambda record: True,
    enough: Callable[[list[ConsumerRecord[bytes, bytes]]], bool] = lambda records: False,
    timeout: float = 15.0,
    linger_s: float = 0.5,
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records ``keep`` accepts on a logical topic, read from its beginning.

    Reads until ``enough`` holds, then on until the topic has been quiet for ``linger_s`` (so a
    record that should not be there is caught), or until ``timeout``.
    """
    import asyncio

    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topic(topic),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            satisfied = enough(records)
            batch = await consumer.getmany(timeout_ms=int((linger_s if satisfied else 0.3) * 1000))
            if satisfied and not batch:
                break
            for partition_records in batch.values():
                records.extend(r for r in partition_records if keep(r))
    finally:
        await consumer.stop()
    return records


async def read_topic_to_end(
    settings: CommonSettings,
    topic: str,
    *,
    keep: Callable[[ConsumerRecord[bytes, bytes]], bool] = lambda record: True,
    timeout: float = 15.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record ``keep`` accepts on a logical topic, from its beginning up to the end
    offsets it has when the call starts: read to a known end, never "until it goes quiet".

    Whatever was acknowledged before the call is in the answer; call it once the writers are
    known to be done (``published`` below, or a sentinel's effect).
    """
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topic(topic),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        # without a group every partition is assigned, once the topic's metadata is known
        partitions = await eventually(consumer.assignment, timeout=timeout)
        ends = await consumer.end_offsets(partitions)

        async def done() -> bool:
            for tp in partitions:
                if await consumer.position(tp) < ends[tp]:
                    return False
            return True

        async def read() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            for tp, partition_records in batch.items():
                records.extend(r for r in partition_records if r.offset < ends[tp] and keep(r))
            return await done()

        await eventually(read, timeout=timeout, interval=0)
    finally:
        await consumer.stop()
    return records


async def published(
    app: FastAPI,
    topic: str,
    expect: Callable[[list[ConsumerRecord[bytes, bytes]]], bool] = lambda records: True,
    *,
    keep: Callable[[ConsumerRecord[bytes, bytes]], bool] = lambda record: True,
    timeout: float = 20.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records on ``topic`` once ``expect`` holds and the app's outbox holds nothing
    unpublished: every event its writes so far produced is then in the answer, so an event
    that should not exist is seen (no linger standing in for that evidence).

    The writes themselves must be over: an API call that returned, or a consumed record whose
    effect was awaited (after a sentinel on its key, see ``after_sentinel``).
    """

    async def ready() -> list[ConsumerRecord[bytes, bytes]] | None:
        if not await app.state.outbox.settled():
            return None
        records = await read_topic_to_end(app.state.settings, topic, keep=keep)
        return records if expect(records) else None

    found: list[ConsumerRecord[bytes, bytes]] = await eventually(ready, timeout=timeout)
    return found
