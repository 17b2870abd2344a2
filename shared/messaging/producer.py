"""The idempotent producer every service publishes through (acks=all, idempotence, lz4).

aiokafka's idempotent producer does not recover from a gap in its sequence numbers: when
batches expire during a broker outage, every later send to that partition fails with
``OutOfOrderSequenceNumber`` until the process restarts (aio-libs/aiokafka#1017; the Java
client bumps its epoch instead). So after any failed publish the next one starts a fresh
producer, which gets a new producer id and sequences from zero. Records the old producer did
not get acknowledged were answered as failures, so callers resend them; the consumers' event-id
idempotency absorbs any that did land.

No linger: aiokafka keeps one produce request in flight per broker, and the records sent while
one is in flight go together in the next, so batches grow with the load without any waiting.
With a 5 ms linger every acknowledged publish waited 5 ms more; single-point webhooks, each
waiting for its record's acknowledgement, were held to about 3,700 a second by 32 senders
(32 / 8.6 ms) with the process at 78 % of a core, and 4,540 without it (bench_kpi_ingest,
2026-12-05), with 1,000-point batches unchanged (0.90 of the bare producer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import suppress

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner, murmur2

from shared.config import CommonSettings
from shared.errors import Unavailable
from shared.events.envelope import Envelope, to_record
from shared.observability import EVENT_PUBLISH_FAILURES, EVENTS_PUBLISHED, get_logger

log = get_logger(__name__)

Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


class CachedPartitioner:
    """Kafka's default partitioning (murmur2 of the key, as the Java client), with each key's hash
    remembered: aiokafka's murmur2 is pure Python and was a sixth of ingest's CPU at 1,000-point
    batches, whose points share a few series keys."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._hashes: dict[bytes, int] = {}
        self._max_keys = max_keys

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return DefaultPartitioner()(key, all_partitions, available)  # type: ignore[no-any-return]
        found = self._hashes.get(key)
        if found is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            found = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[found % len(all_partitions)]


class EventProducer:
    """Publishes records and waits for the broker's acknowledgement of every one."""

    def __init__(self, settings: CommonSettings, *, linger_ms: int = 0) -> None:
        self._settings = settings
        self._service = settings.service_name
        self._linger_ms = linger_ms
        self._partitioner = CachedPartitioner()
        self._producer = self._new_producer()
        self._generation = 0
        self._failed_generation: int | None = None
        self._renewing = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            client_id=f"northstar-{self._settings.service_name}",
            acks="all",
            enable_idempotence=True,
            compression_type="lz4",
            linger_ms=self._linger_ms,
            max_batch_size=256 * 1024,
            request_timeout_ms=15_000,
            partitioner=self._partitioner,
        )

    @property
    def client(self) -> AIOKafkaProducer:
        return self._producer

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()
        if self._retiring:
            await asyncio.wait(self._retiring, timeout=5)

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
        by_topic: dict[str, list[Record]] = {}
        types: dict[str, list[str]] = {}
        for envelope in envelopes:
            target = self._settings.topic(topic or envelope.topic)
            by_topic.setdefault(target, []).append(to_record(envelope))
            types.setdefault(target, []).append(envelope.type)
        for target, records in by_topic.items():
            await self.send_records(target, records)
            for event_type in types[target]:
                EVENTS_PUBLISHED.labels(self._service, target, event_type).inc()

    async def send_raw(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        """Publish a record as is (dead-lettering and DLQ replay keep the original bytes)."""
        await self.send_records(topic, [(key, value, headers)])

    async def send_records(self, topic: str, records: Sequence[Record]) -> None:
        """Send records to a broker-side topic in order and wait for every acknowledgement."""
        await self._renew_after_failure()
        generation, producer = self._generation, self._producer
        futures: list[asyncio.Future[object]] = []
        try:
            for key, value, headers in records:
                futures.append(await producer.send(topic, value=value, key=key, headers=headers))
            for future in futures:
                await future
        except KafkaError as exc:
            for future in futures:
                if not future.done():
                    future.cancel()
            EVENT_PUBLISH_FAILURES.labels(self._service, topic).inc()
            self._failed_generation = generation
            raise Unavailable(f"the event broker did not acknowledge the records: {exc}") from exc

    async def _renew_after_failure(self) -> None:
        if self._failed_generation != self._generation:
            return
        async with self._renewing:
            if self._failed_generation != self._generation:
                return  # another publish renewed it meanwhile
            fresh = self._new_producer()
            try:
                await fresh.start()
            except KafkaError as exc:
                with suppress(KafkaError, OSError):
                    await fresh.stop()
                raise Unavailable(f"the event broker is not reachable: {exc}") from exc
            old, self._producer = self._producer, fresh
            self._generation += 1
            log.warning(
                "replaced the Kafka producer after a failed publish", generation=self._generation
            )
            task = asyncio.create_task(self._retire(old))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    @staticmethod
    async def _retire(producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.stop(), 20)
        except (KafkaError, TimeoutError, OSError):
            pass
