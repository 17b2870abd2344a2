"""Publishing accepted points: CloudEvents records straight to the idempotent producer.

``KafkaPoints`` builds the same records as ``to_record(datapoint_recorded(point))`` (a unit test
pins this) but shares the request-wide headers between points, which matters at a thousand points
a request. Either every record is acknowledged (acks=all) or ``Unavailable`` is raised (503).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson

from services.kpi_ingest.domain import DataPoint
from services.kpi_ingest.events import RECORDED, SOURCE, datapoint_recorded, rfc3339
from shared.events import Envelope
from shared.events.envelope import CONTENT_TYPE, SPEC_VERSION
from shared.events.topics import KPI_DATAPOINTS
from shared.messaging.producer import EventProducer
from shared.observability import EVENTS_PUBLISHED


class PointPublisher(Protocol):
    async def publish_points(self, points: Sequence[DataPoint], now: datetime) -> None: ...


class EnvelopePublisher(Protocol):
    async def publish_many(
        self, envelopes: Sequence[Envelope], topic: str | None = None
    ) -> None: ...


class AsEnvelopes:
    """Any envelope publisher (EventProducer, InMemoryBroker) as a point publisher."""

    def __init__(self, publisher: EnvelopePublisher) -> None:
        self._publisher = publisher

    async def publish_points(self, points: Sequence[DataPoint], now: datetime) -> None:
        await self._publisher.publish_many([datapoint_recorded(p, now) for p in points])


def build_records(
    points: Sequence[DataPoint], now: datetime
) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """(key, value, headers) per point, in the CloudEvents binary mode of ``to_record``."""
    spec = ("ce_specversion", SPEC_VERSION.encode())
    source = ("ce_source", SOURCE.encode())
    kind = ("ce_type", RECORDED.encode())
    time = ("ce_time", rfc3339(now).encode())
    content = ("content-type", CONTENT_TYPE.encode())
    per_key: dict[str, tuple[bytes, Any, Any, Any]] = {}
    records = []
    for p in points:
        key = f"{p.tenant}:{p.metric}"
        shared = per_key.get(key)
        if shared is None:
            raw_key = key.encode()
            shared = per_key[key] = (
                raw_key,
                ("ce_subject", raw_key),
                ("ce_tenant", p.tenant.encode()),
                ("ce_partitionkey", raw_key),
            )
        value = orjson.dumps(
            {
                "id": p.id,
                "tenant": p.tenant,
                "metric": p.metric,
                "value": p.value,
                "timestamp": rfc3339(p.timestamp),
                "dimensions": p.dimensions,
                "source_id": p.source_id,
                "source_event_id": p.source_event_id,
            }
        )
        headers = [
            spec,
            ("ce_id", p.id.encode()),
            source,
            kind,
            time,
            shared[1],
            shared[2],
            shared[3],
            content,
        ]
        records.append((shared[0], value, headers))
    return records


class KafkaPoints:
    """Sends every record, then waits for every acknowledgement (through the EventProducer, which
    replaces its aiokafka producer after a failure)."""

    def __init__(self, producer: EventProducer, topic: str, service: str) -> None:
        self._producer = producer
        self._topic = topic
        self._service = service

    @classmethod
    def of(cls, producer: EventProducer, settings: Any) -> KafkaPoints:
        return cls(producer, settings.topic(KPI_DATAPOINTS), settings.service_name)

    async def publish_points(self, points: Sequence[DataPoint], now: datetime) -> None:
        records = build_records(points, now)
        await self._producer.send_records(self._topic, records)
        EVENTS_PUBLISHED.labels(self._service, self._topic, RECORDED).inc(len(records))
