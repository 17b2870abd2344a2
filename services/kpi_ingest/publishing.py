"""Publishing accepted points: CloudEvents records straight to the idempotent producer.

The records come from the codec's fast path (``shared.events.codec.datapoint_records``), byte for
byte the records of the SDK path. Either every record is acknowledged (acks=all) or
``Unavailable`` is raised (503).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from services.kpi_ingest.domain import DataPoint
from services.kpi_ingest.events import RECORDED, SOURCE
from shared.events.codec import datapoint_records
from shared.events.topics import KPI_DATAPOINTS
from shared.messaging.producer import EventProducer
from shared.observability import EVENTS_PUBLISHED
from shared.tracing import current_traceparent


class PointPublisher(Protocol):
    async def publish_points(self, points: Sequence[DataPoint], now: datetime) -> None: ...


class KafkaPoints:
    """Sends every record, then waits for every acknowledgement (through the EventProducer, which
    replaces its aiokafka producer after a failure)."""

    def __init__(self, producer: EventProducer, topic: str, service: str) -> None:
        self._producer = producer
        self._topic = topic
        self._published = EVENTS_PUBLISHED.labels(service, topic, RECORDED)

    @classmethod
    def of(cls, producer: EventProducer, settings: Any) -> KafkaPoints:
        return cls(producer, settings.topic(KPI_DATAPOINTS), settings.service_name)

    async def publish_points(self, points: Sequence[DataPoint], now: datetime) -> None:
        # the request's span: the points continue the sender's trace (shared.tracing)
        records = datapoint_records(
            points, source=SOURCE, now=now, traceparent=current_traceparent()
        )
        await self._producer.send_records(self._topic, records)
        self._published.inc(len(records))
