"""Benchmark: the goals service draining a backlog of KPI points, record by record vs in runs.

Run: ``.venv/bin/python -m tests.bench.bench_consumer_runs`` (Kafka at
``KAFKA_BOOTSTRAP_SERVERS`` and the document store at ``MONGODB_URI``, e.g. ``make up``'s).

For each case a fresh goals service runs in this process (its real app: consumer runner, router,
outbox relay) with topics and a database of its own. ``--goals`` active goals are stored first,
each bound to its own series (``team`` filter, as ``bench_goal_points.seed_goals`` stores them),
and ``--points`` data points, each matching one goal, are published before the service starts;
the time from its start until its consumer group has committed every point is the drain time.

- **one by one**: ``GOALS_CONSUMER_MAX_BATCH=1``, every record through its handler alone (what
  the service did before runs);
- **runs**: the default, up to 100 consecutive points of a partition through the batch handler;
- **ceiling**: the same service and backlog with a router whose handler does nothing: the
  broker, the runner and the service's start, without the goals' reads and writes.

Cases alternate (``--rounds`` of each, in turn) so a shared machine's noise falls on all of them;
it prints points/s of each, runs against one by one, each against the ceiling, and writes
``bench-results/consumer_runs.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from services.goals.config import GoalsSettings
from services.goals.main import create_app
from services.goals.repository import GoalRepository, indexes
from shared.events import new_event, topics
from shared.events.kpi import KpiDatapointRecorded, series_key
from shared.messaging import ConsumerRunner, EventProducer, Router, ensure_topics
from shared.mongo import Document, ensure_indexes, open_database
from tests.bench.bench_goal_points import METRIC, TENANT, seed_goals

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGODB_URI = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
PARTITIONS = 3


def settings_for(case: str) -> GoalsSettings:
    run = uuid.uuid4().hex[:8]
    return GoalsSettings(
        kafka_bootstrap_servers=KAFKA,
        mongodb_uri=MONGODB_URI,
        mongodb_database=f"bench_{run}_runs",
        topic_prefix=f"bench{run}.",
        topic_partitions=PARTITIONS,
        scheduler_enabled=False,
        consumer_max_batch=1 if case == "one by one" else 100,
    )


async def prepare(settings: GoalsSettings, goals: int, points: int) -> int:
    """Store the goals and publish the backlog; returns the number of records published."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        db = await open_database(client, settings.mongodb_database)
        await ensure_indexes(db, indexes())
        await seed_goals(GoalRepository(db), goals, datetime.now(UTC) - timedelta(days=1))
    finally:
        await client.close()
    await ensure_topics(settings, [topics.KPI_DATAPOINTS], with_dlq=[topics.KPI_DATAPOINTS])
    producer = EventProducer(settings)
    await producer.start()
    try:
        base = datetime.now(UTC)
        envelopes = []
        for i in range(points):
            dimensions = {"team": f"t{i % goals}", "region": "eu"}
            payload = KpiDatapointRecorded(
                id=f"dp-{i}",
                tenant=TENANT,
                metric=METRIC,
                value=1.0,
                timestamp=base + timedelta(milliseconds=i),
                dimensions=dimensions,
                source_id="bench",
                source_event_id=f"e-{i}",
            )
            subject = series_key(TENANT, METRIC, dimensions)
            envelopes.append(new_event(payload, tenant=TENANT, subject=subject, source="bench"))
        for start in range(0, points, 500):
            await producer.publish_many(envelopes[start : start + 500])
    finally:
        await producer.stop()
    return points


async def committed(settings: GoalsSettings) -> int:
    """Records of the points topic the goals group has committed, over every partition."""
    topic = settings.topic(topics.KPI_DATAPOINTS)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        offsets = await admin.list_consumer_group_offsets(
            settings.topic("goals"), partitions=partitions
        )
        return sum(meta.offset for meta in offsets.values() if meta and meta.offset > 0)
    finally:
        await admin.close()


async def end_offsets(settings: GoalsSettings) -> int:
    topic = settings.topic(topics.KPI_DATAPOINTS)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
        return sum(ends.values())
    finally:
        await consumer.stop()


def nothing_router() -> Router:
    """The points handled by doing nothing: what the broker and the runner cost alone."""
    router = Router()

    @router.on(KpiDatapointRecorded)
    async def nothing(event: Any, payload: Any) -> None:
        return None

    return router


async def drained(settings: GoalsSettings, total: int, deadline: float, case: str) -> None:
    while await committed(settings) < total:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{case}: the backlog was not drained in time")
        await asyncio.sleep(0.1)


async def drain(case: str, goals: int, points: int, timeout_s: float) -> float:
    """Seconds from the service's start until its group committed the whole backlog."""
    settings = settings_for(case)
    await prepare(settings, goals, points)
    total = await end_offsets(settings)
    started = time.perf_counter()
    deadline = started + timeout_s
    try:
        if case == "ceiling":
            runner = ConsumerRunner(
                settings, group="goals", router=nothing_router(), producer=EventProducer(settings)
            )
            await runner.start()
            try:
                await drained(settings, total, deadline, case)
            finally:
                await runner.stop()
        else:
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                await drained(settings, total, deadline, case)
        return time.perf_counter() - started
    finally:
        client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_uri)
        await client.drop_database(settings.mongodb_database)
        await client.close()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    cases = ["ceiling", "one by one", "runs"]
    times: dict[str, list[float]] = {case: [] for case in cases}
    for round_no in range(args.rounds):
        for case in cases:
            seconds = await drain(case, args.goals, args.points, args.timeout)
            times[case].append(seconds)
            print(f"round {round_no + 1}: {case:<10} {args.points / seconds:8.1f} points/s")
    rate = {case: args.points / statistics.mean(ts) for case, ts in times.items()}
    return {
        "goals": args.goals,
        "points": args.points,
        "rounds": args.rounds,
        "points_per_s": {case: round(r, 1) for case, r in rate.items()},
        "runs_vs_one_by_one": round(rate["runs"] / rate["one by one"], 2),
        "one_by_one_vs_ceiling": round(rate["one by one"] / rate["ceiling"], 2),
        "runs_vs_ceiling": round(rate["runs"] / rate["ceiling"], 2),
        "seconds": {case: [round(t, 2) for t in ts] for case, ts in times.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_consumer_runs")
    parser.add_argument("--goals", type=int, default=500)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300, help="bound of one drain, s")
    parser.add_argument("--out", type=Path, default=Path("bench-results/consumer_runs.json"))
    args = parser.parse_args(argv)
    report = asyncio.run(main_async(args))
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
