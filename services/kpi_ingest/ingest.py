"""The webhook use case: verify, parse, validate all points, publish, acknowledge.

The hot path does not wait on the document store: webhook-ids are checked in memory and written
behind in batches (deliveries.py), sources and metrics come from a short in-memory cache.
A 2xx is answered only once Kafka acknowledged every record (acks=all): an outage is a 503 and
the sender retries. The delivery is recorded after the publish, so a crash in between republishes
the same deterministic event ids (stored once downstream) instead of losing them.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from services.kpi_ingest.catalog import Catalog
from services.kpi_ingest.deliveries import DeliveryLog
from services.kpi_ingest.domain import Source, TokenBucket, accept_points
from services.kpi_ingest.formats import ADAPTERS, ParseContext
from services.kpi_ingest.publishing import PointPublisher
from services.kpi_ingest.signing import SignatureCheck
from services.kpi_ingest.telemetry import DATAPOINTS, WEBHOOK_REQUESTS
from shared.errors import (
    DomainError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unavailable,
)


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class IngestLimits:
    max_points: int = 1000
    rate_per_s: float = 50.0
    burst: int = 200
    max_future_skew: timedelta = timedelta(days=1)
    publish_timeout_s: float = 10.0


class Ingest:
    def __init__(
        self,
        *,
        service: str,
        deliveries: DeliveryLog,
        catalog: Catalog,
        publisher: PointPublisher,
        limits: IngestLimits,
    ) -> None:
        self._service = service
        self._deliveries = deliveries
        self._catalog = catalog
        self._publisher = publisher
        self._limits = limits
        self._signatures = SignatureCheck()
        self._buckets: dict[str, TokenBucket] = {}

    async def receive(self, source_id: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        """One webhook delivery; raises a domain error (4xx) or Unavailable (503)."""
        source = await self._catalog.source(source_id)
        if source is None:
            WEBHOOK_REQUESTS.labels(self._service, "unknown", "404").inc()
            raise NotFound(f"no webhook source {source_id}")
        try:
            reply = await self._receive(source, body, headers)
        except DomainError as exc:
            WEBHOOK_REQUESTS.labels(self._service, source.format, str(exc.status)).inc()
            raise
        except Unavailable:
            WEBHOOK_REQUESTS.labels(self._service, source.format, "503").inc()
            raise
        WEBHOOK_REQUESTS.labels(self._service, source.format, str(reply.status)).inc()
        return reply

    async def _receive(self, source: Source, body: bytes, headers: Mapping[str, str]) -> Reply:
        self._throttle(source.id)
        now = datetime.now(UTC)
        secrets = source.secrets_valid_at(now)
        if (
            source.format == "segment"
            and "x-signature" in headers
            and ("webhook-signature" not in headers)
        ):
            self._signatures.segment(body, headers["x-signature"], secrets)
            # Segment resends the same body; its hash is the delivery's identity
            delivery = "x-signature:" + hashlib.sha256(body).hexdigest()
        else:
            delivery = self._signatures.standard(body, headers, secrets)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the body is not JSON: {exc}") from None

        parsed = ADAPTERS[source.format](payload, source.mapping, ParseContext(delivery, now))
        delivery_key = f"{source.id}:{delivery}"
        if self._deliveries.seen(delivery_key):
            DATAPOINTS.labels(self._service, source.id, source.format, "duplicate").inc(
                len(parsed.points)
            )
            return self._reply(parsed.status, parsed.reply, duplicate=True, accepted=0)
        if len(parsed.points) > self._limits.max_points:
            raise PayloadTooLarge(
                f"{len(parsed.points)} data points in one request; the limit is "
                f"{self._limits.max_points}"
            )
        metrics = await self._catalog.metrics(source.tenant)
        try:
            points = accept_points(
                parsed.points,
                source=source,
                metrics=metrics,
                now=now,
                max_future_skew=self._limits.max_future_skew,
            )
        except InvalidInput:
            DATAPOINTS.labels(self._service, source.id, source.format, "rejected").inc(
                len(parsed.points)
            )
            raise
        if points:
            try:
                async with asyncio.timeout(self._limits.publish_timeout_s):
                    await self._publisher.publish_points(points, now)
            except (Unavailable, TimeoutError) as exc:
                DATAPOINTS.labels(self._service, source.id, source.format, "unavailable").inc(
                    len(points)
                )
                if isinstance(exc, Unavailable):
                    raise
                raise Unavailable(
                    "the event broker did not acknowledge the data points in time"
                ) from None
            DATAPOINTS.labels(self._service, source.id, source.format, "accepted").inc(len(points))
        self._deliveries.remember(source.tenant, delivery_key, len(points), now)
        return self._reply(
            parsed.status, parsed.reply, accepted=len(points), ignored=parsed.ignored
        )

    @staticmethod
    def _reply(status: int, reply: dict[str, Any] | None, *, accepted: int, **extra: Any) -> Reply:
        if reply is not None:  # the sender's own protocol (Mixpanel, OTLP)
            return Reply(200 if extra.get("duplicate") else status, reply)
        if extra.get("duplicate"):
            return Reply(200, {"status": "duplicate", "accepted": 0})
        return Reply(status, {"status": "accepted", "accepted": accepted, **extra})

    def _throttle(self, source_id: str) -> None:
        now = time.monotonic()
        bucket = self._buckets.get(source_id)
        if bucket is None:
            bucket = self._buckets[source_id] = TokenBucket(
                self._limits.rate_per_s, self._limits.burst, now
            )
        wait = bucket.take(now)
        if wait > 0:
            raise TooManyRequests(
                "this source sends faster than its rate limit", retry_after=max(1, math.ceil(wait))
            )
