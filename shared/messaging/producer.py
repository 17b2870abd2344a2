"""The idempotent producer every service publishes through (acks=all, idempotence, lz4)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.config import CommonSettings
from shared.errors import Unavailable
from shared.events.envelope import Envelope, to_record
from shared.observability import EVENT_PUBLISH_FAILURES, EVENTS_PUBLISHED


class EventProducer:
    """Publishes envelopes as CloudEvents records; every publish waits for the broker's ack."""

    def __init__(self, settings: CommonSettings, *, linger_ms: int = 5) -> None:
        self._settings = settings
        self._service = settings.service_name
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=f"northstar-{settings.service_name}",
            acks="all",
            enable_idempotence=True,
            compression_type="lz4",
            linger_ms=linger_ms,
            max_batch_size=256 * 1024,
            request_timeout_ms=15_000,
        )

    @property
    def client(self) -> AIOKafkaProducer:
        return self._producer

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def healthy(self, timeout: float = 2.0) -> bool:
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
        except (KafkaError, TimeoutError, OSError):
            return False
        return True

    async def publish(self, envelope: Envelope, topic: str | None = None) -> None:
        await self.publish_many([envelope], topic)

    async def publish_many(self, envelopes: Sequence[Envelope], topic: str | None = None) -> None:
        """Send all, then wait for every ack; raises Unavailable if any record was not acked."""
        futures = []
        try:
            for envelope in envelopes:
                key, value, headers = to_record(envelope)
                target = self._settings.topic(topic or envelope.topic)
                futures.append(
                    (
                        target,
                        envelope.type,
                        await self._producer.send(target, value=value, key=key, headers=headers),
                    )
                )
            for target, event_type, future in futures:
                await future
                EVENTS_PUBLISHED.labels(self._service, target, event_type).inc()
        except KafkaError as exc:
            for target, _, future in futures:
                if not future.done():
                    future.cancel()
                EVENT_PUBLISH_FAILURES.labels(self._service, target).inc()
            raise Unavailable(f"the event broker did not acknowledge the events: {exc}") from exc

    async def send_raw(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        """Publish a record as is (dead-lettering and DLQ replay keep the original bytes)."""
        try:
            await (await self._producer.send(topic, value=value, key=key, headers=headers))
        except KafkaError as exc:
            EVENT_PUBLISH_FAILURES.labels(self._service, topic).inc()
            raise Unavailable(f"the event broker did not acknowledge the record: {exc}") from exc
