"""The webhook use case: admit, limit, verify, parse, validate all points, publish, acknowledge.

The answers a sender can act on: 202 (accepted; a redelivery of an accepted webhook-id too, not
published again), 429 or 503 with Retry-After (over the source's limit, ingest at capacity, Kafka
or the store not answering in time), 4xx for what no retry can fix. 401 only for a request that
is not correctly signed: the timestamp tolerance is judged at arrival (signing.py), and a correct
signature on an old timestamp is still recognised as a redelivery of an accepted id.

A 2xx is answered only once Kafka acknowledged every record (acks=all). Accepted webhook-ids are
known in memory and shared with the other replicas through a journal in the store (deliveries.py);
a repeat the journal has not carried yet republishes the same deterministic event ids (stored once
downstream). Sources and metrics come from a short in-memory cache; nothing on the hot path waits
for the store once those are cached.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
from pymongo.errors import PyMongoError

from services.kpi_ingest.admission import Admission, SharedRateLimit
from services.kpi_ingest.catalog import Catalog
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.credentials import check_token
from services.kpi_ingest.deliveries import DeliveryLog
from services.kpi_ingest.domain import Source, accept_points
from services.kpi_ingest.formats import FORMATS, ParseContext, segment
from services.kpi_ingest.publishing import PointPublisher
from services.kpi_ingest.repository import REPLAY_WINDOW
from services.kpi_ingest.signing import SignatureCheck, StaleSignature
from services.kpi_ingest.telemetry import DATAPOINTS, WEBHOOK_REQUESTS
from shared.errors import (
    DomainError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
)
from shared.observability import Children

T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class IngestLimits:
    max_points: int = 1000
    max_future_skew: timedelta = timedelta(days=1)
    # under a sender's usual 10 s timeout, so it hears 503 instead of timing out
    publish_timeout_s: float = 5.0
    max_in_flight_requests: int = 256
    max_in_flight_bytes: int = 32 * 1_048_576
    # how old a Segment X-Signature delivery may be: what the delivery log remembers
    replay_window: timedelta = REPLAY_WINDOW

    @classmethod
    def of(cls, settings: Any) -> IngestLimits:
        return cls(
            max_points=settings.max_points_per_request,
            max_future_skew=timedelta(seconds=settings.max_future_skew_s),
            publish_timeout_s=settings.publish_timeout_s,
            max_in_flight_requests=settings.max_in_flight_requests,
            max_in_flight_bytes=settings.max_in_flight_bytes,
        )


class Ingest:
    def __init__(
        self,
        *,
        service: str,
        deliveries: DeliveryLog,
        catalog: Catalog,
        publisher: PointPublisher,
        rate_limit: SharedRateLimit,
        limits: IngestLimits,
    ) -> None:
        self._requests = Children(WEBHOOK_REQUESTS, service)
        self._points = Children(DATAPOINTS, service)
        self.deliveries = deliveries
        self._catalog = catalog
        self._publisher = publisher
        self._rate_limit = rate_limit
        self._limits = limits
        self._signatures = SignatureCheck()
        self.admission = Admission(limits.max_in_flight_requests, limits.max_in_flight_bytes)

    @classmethod
    def of(
        cls,
        settings: KpiIngestSettings,
        deliveries: DeliveryLog,
        catalog: Catalog,
        publisher: PointPublisher,
        rate_leases: Any,
    ) -> Ingest:
        """The use case as configured; ``rate_leases`` is the collection the replicas share."""
        return cls(
            service=settings.service_name,
            deliveries=deliveries,
            catalog=catalog,
            publisher=publisher,
            rate_limit=SharedRateLimit(
                rate_leases,
                settings.rate_limit_per_s,
                settings.rate_limit_burst,
                max_wait_s=settings.rate_limit_max_wait_s,
            ),
            limits=IngestLimits.of(settings),
        )

    async def receive(
        self, source_id: str, body: bytes, headers: Mapping[str, str], arrived: datetime
    ) -> Reply:
        """One webhook delivery; raises a domain error (4xx) or Unavailable (503)."""
        source = await self._lookup(self._catalog.source(source_id))
        if source is None:
            self._requests("unknown", "404").inc()
            raise NotFound(f"no webhook source {source_id}")
        try:
            reply = await self._receive(source, body, headers, arrived)
        except DomainError as exc:
            self._requests(source.format, str(exc.status)).inc()
            raise
        except Unavailable:
            self._requests(source.format, "503").inc()
            raise
        self._requests(source.format, str(reply.status)).inc()
        return reply

    async def _lookup(self, pending: Awaitable[T]) -> T:
        """A catalog read on the hot path (a miss waits ``lookup_timeout_s`` at most for the store):
        slow or failing is a 503 (retry), never a 401 or 500."""
        try:
            return await pending
        except (PyMongoError, TimeoutError):
            raise Unavailable("the document store did not answer in time", retry_after=1) from None

    async def _receive(
        self, source: Source, body: bytes, headers: Mapping[str, str], arrived: datetime
    ) -> Reply:
        await self._rate_limit.take(source.id)
        now = datetime.now(UTC)
        secrets = source.secrets_valid_at(now)
        stale: StaleSignature | None = None
        segment_signed = False
        if source.auth != "signature":
            # a sender that cannot sign: its token; a webhook-id, if sent, names the delivery
            check_token(source.auth, headers, secrets)
            delivery = headers.get("webhook-id") or "body:" + hashlib.sha256(body).hexdigest()
        elif (
            source.format == "segment"
            and "x-signature" in headers
            and ("webhook-signature" not in headers)
        ):
            self._signatures.segment(body, headers["x-signature"], secrets)
            # Segment resends the same body; its hash is the delivery's identity
            delivery = "x-signature:" + hashlib.sha256(body).hexdigest()
            segment_signed = True
        else:
            try:
                delivery = self._signatures.standard(body, headers, secrets, arrived)
            except StaleSignature as exc:
                # correctly signed, out of tolerance: refused unless it repeats an accepted id
                stale, delivery = exc, exc.webhook_id
        key = f"{source.id}:{delivery}"
        if stale is not None and not self.deliveries.accepted(key):
            raise stale
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the body is not JSON: {exc}") from None
        if segment_signed and not self.deliveries.accepted(key):
            self._refuse_unless_recent(payload, arrived)

        parsed = FORMATS[source.format].parse(payload, source.mapping, ParseContext(delivery, now))
        if not await self.deliveries.claim(key):
            return self._duplicate(source, parsed)
        accepted = False
        try:
            if self.deliveries.accepted(key):
                accepted = True
                return self._duplicate(source, parsed)
            reply = await self._publish(source, parsed, key, now)
            accepted = True
            return reply
        finally:
            self.deliveries.release(key, accepted)

    def _refuse_unless_recent(self, payload: Any, arrived: datetime) -> None:
        """An X-Signature has no timestamp, so a captured delivery verifies forever: one the
        delivery log may have forgotten (older than its window) is refused, judged by the
        calls' own times, which the signature covers."""
        sent = segment.sent_at(payload)
        if sent is None:
            raise Unauthorized(
                "an X-Signature delivery needs receivedAt, sentAt or timestamp on its calls"
            )
        if arrived - sent > self._limits.replay_window:
            raise Unauthorized(
                "the delivery is older than the replay window "
                f"({int(self._limits.replay_window.total_seconds())} s); "
                "it cannot be told from a replay"
            )

    def _duplicate(self, source: Source, parsed: Any) -> Reply:
        self._points(source.id, source.format, "duplicate").inc(len(parsed.points))
        if parsed.reply is not None:  # the sender's own protocol (Mixpanel, OTLP)
            return Reply(200, parsed.reply)
        return Reply(202, {"status": "duplicate", "accepted": 0})

    async def _publish(self, source: Source, parsed: Any, key: str, now: datetime) -> Reply:
        if len(parsed.points) > self._limits.max_points:
            raise PayloadTooLarge(
                f"{len(parsed.points)} data points in one request; the limit is "
                f"{self._limits.max_points}"
            )
        metrics = await self._lookup(self._catalog.metrics(source.tenant))
        try:
            points = accept_points(
                parsed.points,
                source=source,
                metrics=metrics,
                now=now,
                max_future_skew=self._limits.max_future_skew,
            )
        except InvalidInput:
            self._points(source.id, source.format, "rejected").inc(len(parsed.points))
            raise
        if points:
            try:
                async with asyncio.timeout(self._limits.publish_timeout_s):
                    await self._publisher.publish_points(points, now)
            except (Unavailable, TimeoutError) as exc:
                self._points(source.id, source.format, "unavailable").inc(len(points))
                if isinstance(exc, Unavailable):
                    raise
                raise Unavailable(
                    "the event broker did not acknowledge the data points in time", retry_after=1
                ) from None
            self._points(source.id, source.format, "accepted").inc(len(points))
        self.deliveries.remember(key)
        if parsed.reply is not None:  # the sender's own protocol (Mixpanel, OTLP)
            return Reply(parsed.status, parsed.reply)
        return Reply(
            parsed.status,
            {"status": "accepted", "accepted": len(points), "ignored": parsed.ignored},
        )
