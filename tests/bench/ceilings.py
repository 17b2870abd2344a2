"""The ceilings of ``make bench``: what the bare tools do on this machine, in the same run.

- bare FastAPI endpoint (uvicorn subprocess, reads the body, answers 202): requests/s;
- bare aiokafka producer (acks=all, idempotent, lz4, the same CloudEvents records): records/s;
- bare bulk insert into the document store (``insert_many`` of 1,000-document chunks): docs/s.

The KPI ingest bench measures the first two beside the service and the fan-out bench the third
(the very documents the fan-out wrote, into empty collections with the same indexes);
``ceilings_from`` takes them from their results. When one of those benches failed,
``measure_missing`` measures what is missing here, briefly, so every ratio still has a ceiling
from this run.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

MONGODB_URI_DEFAULT = "mongodb://127.0.0.1:27017/"


def ceilings_from(kpi: dict[str, Any] | None, fanout: dict[str, Any] | None) -> dict[str, Any]:
    """The ceilings the sub-benches measured, with where each came from."""
    found: dict[str, Any] = {}
    if kpi and kpi.get("bare_fastapi_rps"):
        found["bare_fastapi_rps"] = {"value": kpi["bare_fastapi_rps"], "by": "bench_kpi_ingest"}
    if kpi and kpi.get("bare_producer_records_per_s"):
        found["bare_producer_records_per_s"] = {
            "value": kpi["bare_producer_records_per_s"],
            "by": "bench_kpi_ingest",
        }
    if fanout and fanout.get("bare_insert_seconds"):
        found["bare_insert_docs_per_s"] = {
            "value": fanout["documents_written"] / fanout["bare_insert_seconds"],
            "by": "bench_fanout (the fan-out's own documents, same indexes)",
        }
    return found


async def bare_fastapi_rps(duration: float = 5.0, warmup: float = 1.0) -> float:
    from tests.bench import bench_kpi_ingest as kpi

    port = kpi.free_port()
    proc = kpi.serve("tests.bench.bench_kpi_ingest:bare_app", port, {})
    try:
        await kpi.wait_ready(f"http://127.0.0.1:{port}/docs")
        body = kpi.points_body(1, 0, datetime.now(UTC))
        rate, _, _ = await kpi.load(
            f"http://127.0.0.1:{port}/ingest",
            [(body, {"content-type": "application/json"})],
            concurrency=32,
            duration=duration,
            warmup=warmup,
            unique=False,
        )
        return float(rate)
    finally:
        kpi.stop(proc)


async def bare_producer_records_per_s(duration: float = 5.0, warmup: float = 1.0) -> float:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from tests.bench import bench_kpi_ingest as kpi

    topic = f"bench{uuid.uuid4().hex[:8]}.ceiling"
    admin = AIOKafkaAdminClient(bootstrap_servers=kpi.KAFKA)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        rate = await kpi.bare_producer(
            kpi.kafka_records(20_000, datetime.now(UTC)),
            topic,
            batch=1000,
            concurrency=4,
            duration=duration,
            warmup=warmup,
        )
        await admin.delete_topics([topic])
        return float(rate)
    finally:
        await admin.close()


async def bare_insert_docs_per_s(uri: str = MONGODB_URI_DEFAULT, docs: int = 5000) -> float:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    name = f"bench_{uuid.uuid4().hex[:8]}_ceiling"
    now = datetime.now(UTC)
    batch = [
        {
            "_id": f"n{i}",
            "tenant": "bench",
            "recipient_id": f"p{i}",
            "category": "celebration",
            "title": "A milestone",
            "summary": "Someone reached 50 % of a goal",
            "data": {"goal_id": "g1", "milestone": "0.5"},
            "created_at": now,
        }
        for i in range(docs)
    ]
    try:
        collection = client[name]["inbox"]
        await collection.create_index([("tenant", 1), ("recipient_id", 1), ("created_at", -1)])
        started = time.perf_counter()
        for at in range(0, docs, 1000):
            await collection.insert_many(batch[at : at + 1000], ordered=False)
        return docs / (time.perf_counter() - started)
    finally:
        await client.drop_database(name)
        await client.close()


async def measure_missing(found: dict[str, Any], uri: str = MONGODB_URI_DEFAULT) -> dict[str, Any]:
    """Measure here the ceilings the sub-benches could not give (each bounded to a minute)."""
    measures: dict[str, Callable[[], Awaitable[float]]] = {
        "bare_fastapi_rps": bare_fastapi_rps,
        "bare_producer_records_per_s": bare_producer_records_per_s,
        "bare_insert_docs_per_s": partial(bare_insert_docs_per_s, uri),
    }
    for name, measure in measures.items():
        if name in found:
            continue
        try:
            value = await asyncio.wait_for(measure(), 60)
            found[name] = {"value": value, "by": "ceilings.py (the sub-bench failed)"}
        except Exception as exc:  # a missing ceiling is reported, not fatal
            found[name] = {"value": None, "by": f"failed: {type(exc).__name__}: {exc}"[:200]}
    return found
