"""``northstar dlq replay``: put dead-lettered records back on the topic they came from.

A record lands in ``<topic>.dlq`` after its handler kept failing (a bug, bad data). Once the cause
is fixed, replay republishes the records dead-lettered in a time window to the original topic,
byte for byte (same key, so the same partition and order per aggregate; same value; the original
``ce_*`` headers), without the ``dlq_*`` error headers and with ``northstar_replayed_from`` naming
the DLQ coordinates. Every consumer group subscribed to the topic sees the record again; that is
harmless because every effect is idempotent on the event id. The DLQ itself is left as it is (it
is an audit trail with its own retention), so a replay can be repeated or narrowed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from shared.config import CommonSettings
from shared.errors import Unavailable
from shared.events.topics import dlq
from shared.messaging.producer import EventProducer

DLQ_SUFFIX = ".dlq"
REPLAYED_FROM = "northstar_replayed_from"
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """An ISO-8601 instant (``2026-11-27T09:00:00Z``, naive is UTC) or an age (``90m``, ``2d``)."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(value.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither an ISO-8601 time nor an age like 30m, 6h, 2d"
        ) from exc
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def logical_topic(name: str) -> str:
    """``northstar.goals.v1`` or ``northstar.goals.v1.dlq`` → ``northstar.goals.v1``."""
    return name[: -len(DLQ_SUFFIX)] if name.endswith(DLQ_SUFFIX) else name


@dataclass
class ReplayedRecord:
    partition: int
    offset: int
    dead_lettered_at: datetime
    event_type: str
    event_id: str
    group: str
    error: str


@dataclass
class ReplayReport:
    source: str
    target: str
    replayed: list[ReplayedRecord] = field(default_factory=list)
    skipped: int = 0
    dry_run: bool = False


async def _partitions(settings: CommonSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=15_000
    )
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described.get("error_code"):
        return []
    return sorted(p["partition"] for p in described.get("partitions", []))


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str:
    for key, raw in headers:
        if key == name:
            return raw.decode("utf-8", "replace")
    return ""


async def replay(
    settings: CommonSettings,
    topic: str,
    since: datetime,
    *,
    until: datetime | None = None,
    event_type: str | None = None,
    group: str | None = None,
    dry_run: bool = False,
) -> ReplayReport:
    """Republish the DLQ records of ``topic`` dead-lettered in [since, until) to ``topic``.

    Reads up to the DLQ's end as it is when the replay starts, so records dead-lettered again
    during the replay are not picked up in a loop.
    """
    logical = logical_topic(topic)
    source = settings.topic(dlq(logical))
    target = settings.topic(logical)
    report = ReplayReport(source=source, target=target, dry_run=dry_run)
    partitions = await _partitions(settings, source)
    if not partitions:
        raise Unavailable(f"dead-letter topic {source} does not exist")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="northstar-dlq-replay",
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    producer: EventProducer | None = None
    try:
        tps = [TopicPartition(source, p) for p in partitions]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
        remaining: set[TopicPartition] = set()
        for tp in tps:
            start = starts.get(tp)
            if start is None or start.offset >= ends[tp]:
                continue
            consumer.seek(tp, start.offset)
            remaining.add(tp)
        if not dry_run and remaining:
            producer = EventProducer(settings.model_copy(update={"service_name": "dlq-replay"}))
            await producer.start()
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=500)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    await _replay_one(record, report, producer, until, event_type, group)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        if producer is not None:
            await producer.stop()
        await consumer.stop()
    return report


async def _replay_one(
    record: Any,
    report: ReplayReport,
    producer: EventProducer | None,
    until: datetime | None,
    event_type: str | None,
    group: str | None,
) -> None:
    headers: list[tuple[str, bytes]] = list(record.headers)
    at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
    kind = _header(headers, "ce_type")
    failed_in = _header(headers, "dlq_consumer_group")
    if (
        (until is not None and at >= until)
        or (event_type is not None and kind != event_type)
        or (group is not None and failed_in != group)
    ):
        report.skipped += 1
        return
    if producer is not None:
        await producer.send_raw(
            report.target,
            key=record.key,
            value=record.value,
            headers=[
                *[(k, v) for k, v in headers if not k.startswith("dlq_") and k != REPLAYED_FROM],
                (REPLAYED_FROM, f"{record.topic}/{record.partition}/{record.offset}".encode()),
            ],
        )
    report.replayed.append(
        ReplayedRecord(
            partition=record.partition,
            offset=record.offset,
            dead_lettered_at=at,
            event_type=kind or "?",
            event_id=_header(headers, "ce_id") or "?",
            group=failed_in or "?",
            error=_header(headers, "dlq_error"),
        )
    )


def cmd_replay(args: argparse.Namespace) -> int:
    settings = CommonSettings()
    try:
        report = asyncio.run(
            replay(
                settings,
                args.topic,
                args.since,
                until=args.until,
                event_type=args.type,
                group=args.group,
                dry_run=args.dry_run,
            )
        )
    except (Unavailable, KafkaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    verb = "would replay" if report.dry_run else "replayed"
    for item in report.replayed:
        print(
            f"{report.source}/{item.partition}/{item.offset}  {item.dead_lettered_at.isoformat()}  "
            f"{item.event_type}  {item.event_id}  group={item.group}  {item.error[:120]}"
        )
    print(
        f"{verb} {len(report.replayed)} record(s) from {report.source} to {report.target}"
        f" ({report.skipped} outside the filters)"
    )
    return 0


def register(subparsers: Any) -> None:
    """Add ``northstar dlq replay`` to the console script."""
    parser = subparsers.add_parser("dlq", help="inspect and replay dead-letter topics")
    sub = parser.add_subparsers(dest="dlq_command", required=True)
    replay_parser = sub.add_parser(
        "replay",
        help="republish dead-lettered records to their original topic",
        description=(
            "Republish the records dead-lettered since a time to the topic they came from. "
            "Topics carry NORTHSTAR_TOPIC_PREFIX, and Kafka is KAFKA_BOOTSTRAP_SERVERS."
        ),
    )
    replay_parser.add_argument(
        "--topic",
        required=True,
        help="the original topic (northstar.goals.v1) or its dead-letter twin (….dlq)",
    )
    replay_parser.add_argument(
        "--since",
        required=True,
        type=parse_since,
        help="dead-lettered at or after: ISO-8601 time (2026-11-27T09:00:00Z) or an age (30m, 2d)",
    )
    replay_parser.add_argument("--until", type=parse_since, help="and before this time")
    replay_parser.add_argument("--type", help="only this event type (northstar.goal.created.v1)")
    replay_parser.add_argument("--group", help="only records dead-lettered by this consumer group")
    replay_parser.add_argument(
        "--dry-run", action="store_true", help="list what would be replayed, publish nothing"
    )
    replay_parser.set_defaults(func=cmd_replay)
