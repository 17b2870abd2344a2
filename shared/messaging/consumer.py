"""One consumer runner for every service: typed dispatch, retries, dead letters, safe commits.

- Handlers are declared on a :class:`Router` by payload type, like FastAPI routes.
- Offsets are committed only after the handler's effect is stored.
- The partitions of one fetch are processed concurrently, each strictly in order: records of
  one key (one aggregate, one KPI series) stay in order, while a slow store round trip for one
  partition no longer holds up the others. The fetch's offsets are committed once all its
  partitions are done (or stopped), each only up to its last record whose effect is stored.
- Transient errors (database or broker outages, lost optimistic races) are retried with
  backoff on the same record, so the partition's order holds and an outage never dead-letters.
- A record that cannot be read, or whose handler keeps failing for another reason, goes to
  ``<topic>.dlq`` with the error and its original coordinates in headers; the runner goes on.
- Types a router doesn't handle are skipped and counted, told by the record's type header
  without reading the record.
- A type with a batch handler (``Router.on_batch``) is handed over in runs: consecutive records
  of that type in one partition's fetch go to the batch handler at once, so a hot stream (KPI
  data points) pays its store round trips per run instead of per record. A failed run falls
  back to the record-by-record handlers, with their retries and dead letters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord
from opentelemetry.trace import SpanKind
from pymongo.errors import ConnectionFailure, ExecutionTimeout, OperationFailure
from structlog.contextvars import bound_contextvars
from tenacity import wait_exponential_jitter

from shared.config import CommonSettings
from shared.errors import Unavailable, VersionConflict
from shared.events.envelope import Envelope, EventPayload, MalformedEvent, from_record
from shared.events.topics import dlq
from shared.messaging.producer import EventProducer
from shared.messaging.topics import ensure_topics
from shared.observability import (
    CONSUMER_LAG,
    EVENT_HANDLER_LATENCY,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_RETRIED,
    get_logger,
)
from shared.tracing import continued_span

log = get_logger(__name__)

Handler = Callable[[Envelope, Any], Awaitable[None]]
H = TypeVar("H", bound=Handler)
# a run of consecutive events of one type from one partition, in order, with their payloads
BatchHandler = Callable[[list[tuple[Envelope, Any]]], Awaitable[None]]
B = TypeVar("B", bound=BatchHandler)


@dataclass(frozen=True)
class Tombstone:
    """A record with a null value: the end of a key on a compacted topic (an erased person).

    ``tenant`` comes from the ``ce_tenant`` header when the producer wrote one (ours do)."""

    topic: str  # the logical topic
    key: str
    tenant: str | None


TombstoneHandler = Callable[[Tombstone], Awaitable[None]]
T = TypeVar("T", bound=TombstoneHandler)

# Errors that say "try again later", never "this record is bad".
TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    ExecutionTimeout,
    KafkaError,
    Unavailable,
    VersionConflict,
    TimeoutError,
    ConnectionError,
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT):
        # first: ExecutionTimeout is an OperationFailure (code 50) and must not fall to the codes
        return True
    if isinstance(exc, OperationFailure):
        # "not primary", interrupted and similar server states pass; bad operations don't
        return bool(exc.has_error_label("RetryableWriteError")) or exc.code in {
            6,
            7,
            89,
            91,
            189,
            11600,
            11602,
            10107,
            13435,
            13436,
        }
    return False


class Router:
    """The subscriptions of one consumer group: payload type → handlers, run in order.

    Several handlers may listen to one type (e.g. the people directory and a service's own
    reaction to a manager change); each must be idempotent, as a retry runs them all again.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, tuple[type[EventPayload], list[Handler]]] = {}
        self._batch_handlers: dict[str, BatchHandler] = {}
        self._tombstones: dict[str, list[TombstoneHandler]] = {}

    def on(self, payload_type: type[EventPayload]) -> Callable[[H], H]:
        def register(handler: H) -> H:
            entry = self._handlers.setdefault(payload_type.event_type, (payload_type, []))
            entry[1].append(handler)
            return handler

        return register

    def on_batch(self, payload_type: type[EventPayload]) -> Callable[[B], B]:
        """Handle runs of this type at once (see the module's doc). The batch handler must
        have the effect of the type's ``on`` handlers applied one event after the other: it
        replaces them for a run, and they remain the fallback when a run fails."""

        def register(handler: B) -> B:
            if payload_type.event_type not in self._handlers:
                raise ValueError(f"{payload_type.event_type}: register its `on` handlers first")
            self._batch_handlers[payload_type.event_type] = handler
            return handler

        return register

    def batches(self, event_type: str) -> bool:
        return event_type in self._batch_handlers

    async def dispatch_batch(self, envelopes: list[Envelope]) -> None:
        """Run the batch handler of the run's type (every envelope has that one type)."""
        handler = self._batch_handlers[envelopes[0].type]
        await handler([(envelope, envelope.payload()) for envelope in envelopes])

    def on_tombstone(self, topic: str) -> Callable[[T], T]:
        """Handle null-value records of a (compacted) logical topic; without a handler they
        are skipped, never dead-lettered."""

        def register(handler: T) -> T:
            self._tombstones.setdefault(topic, []).append(handler)
            return handler

        return register

    async def dispatch_tombstone(self, tombstone: Tombstone) -> bool:
        """Run the tombstone handlers of its topic; False when there are none."""
        handlers = self._tombstones.get(tombstone.topic, [])
        for handler in handlers:
            await handler(tombstone)
        return bool(handlers)

    @property
    def topics(self) -> set[str]:
        found = {payload_type.topic for payload_type, _ in self._handlers.values()}
        return found | set(self._tombstones)

    @property
    def event_types(self) -> set[str]:
        return set(self._handlers)

    def handles(self, event_type: str) -> bool:
        return event_type in self._handlers

    async def dispatch(self, envelope: Envelope) -> bool:
        """Run the handlers for this event; False when the type is not subscribed."""
        found = self._handlers.get(envelope.type)
        if found is None:
            return False
        payload = envelope.payload()  # the catalogue's model for this type; MalformedEvent if not
        for handler in found[1]:
            await handler(envelope, payload)
        return True


class _Stopping(Exception):
    pass


class ConsumerRunner:
    """Consumes the router's topics as one consumer group until stopped."""

    def __init__(
        self,
        settings: CommonSettings,
        *,
        group: str,
        router: Router,
        producer: EventProducer,
        poison_attempts: int = 3,
        max_backoff_s: float = 10.0,
        max_records: int = 200,
        max_batch: int = 100,
    ) -> None:
        self._settings = settings
        self._service = settings.service_name
        self.group = group
        self._router = router
        self._producer = producer
        self._poison_attempts = poison_attempts
        self._wait = wait_exponential_jitter(multiplier=0.1, max=max_backoff_s, jitter=0.1)
        self._max_records = max_records
        self._max_batch = max_batch
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_flight = asyncio.Lock()
        self._uncommitted: dict[TopicPartition, int] = {}

    @property
    def topics(self) -> list[str]:
        return sorted(self._settings.topic(t) for t in self._router.topics)

    async def start(self) -> None:
        logical = sorted(self._router.topics)
        await ensure_topics(self._settings, logical, with_dlq=logical)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            group_id=self._settings.topic(self.group),
            client_id=f"northstar-{self._service}-{self.group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=300_000,
            fetch_min_bytes=self._settings.consumer_fetch_min_bytes,
            fetch_max_wait_ms=self._settings.consumer_fetch_max_wait_ms,
        )
        self._consumer.subscribe(self.topics, listener=_CommitOnRevoke(self))
        await self._consumer.start()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.group}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 15)
            except TimeoutError:
                self._task.cancel()
            except Exception:
                log.exception("consumer loop ended with an error", group=self.group)
            self._task = None
        if self._consumer is not None:
            await self._commit_processed()
            await self._consumer.stop()
            self._consumer = None

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while not self._stopping:
            try:
                batches = await consumer.getmany(timeout_ms=200, max_records=self._max_records)
            except KafkaError as exc:
                log.warning("fetch failed; retrying", group=self.group, error=str(exc))
                await asyncio.sleep(1)
                continue
            async with self._in_flight:
                await asyncio.gather(
                    *(self._partition(consumer, tp, records) for tp, records in batches.items())
                )
            await self._commit_processed()
            if self._stopping:
                break
            await self._update_lag(consumer)

    async def _partition(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        records: list[ConsumerRecord[bytes, bytes]],
    ) -> None:
        """One partition's records of a fetch, in order; stops early when the runner stops.

        Records of a batched type are gathered into runs (cut by any other record and by
        ``max_batch``); a run's offsets count as processed once the whole run is."""
        run: list[tuple[ConsumerRecord[bytes, bytes], Envelope]] = []
        skipped_to = 0  # past the unwanted records met while a run was gathering

        async def flush() -> None:
            if run:
                await self._handle_run(run)
                self._uncommitted[tp] = max(run[-1][0].offset + 1, skipped_to)
                run.clear()

        try:
            for record in records:
                if self._stopping or tp not in consumer.assignment():
                    return
                if self._unwanted(record):
                    if run:  # passed once the run is done
                        skipped_to = record.offset + 1
                    else:
                        self._uncommitted[tp] = record.offset + 1
                    continue
                envelope = self._read(record)
                if envelope is not None and self._router.batches(envelope.type):
                    if run and run[0][1].type != envelope.type:
                        await flush()
                    run.append((record, envelope))
                    if len(run) >= self._max_batch:
                        await flush()
                    continue
                await flush()
                await self._handle(record, envelope)
                self._uncommitted[tp] = record.offset + 1
            if not self._stopping and tp in consumer.assignment():
                await flush()
        except _Stopping:
            return

    def _unwanted(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Whether the record's ``ce_type`` header names a type the router does not handle: it
        is skipped (and counted) unread. Most records of a shared topic can be for other groups
        (every KPI data point, for notifications), and reading one whole (the CloudEvents SDK,
        its time, its JSON data) cost CPU for nothing; one without a readable type is read, so
        what cannot be read still goes to the dead letters."""
        if record.value is None:
            return False
        for name, value in record.headers:
            if name == "ce_type":
                try:
                    event_type = value.decode()
                except UnicodeDecodeError:
                    return False
                if self._router.handles(event_type):
                    return False
                EVENTS_CONSUMED.labels(
                    self._service, self.group, record.topic, event_type, "skipped"
                ).inc()
                return True
        return False

    @staticmethod
    def _read(record: ConsumerRecord[bytes, bytes]) -> Envelope | None:
        """The record's envelope, read once; None for a tombstone or what cannot be read
        (``_handle`` tells those apart and dead-letters the latter)."""
        if record.value is None:
            return None
        try:
            return from_record(record.value, list(record.headers))
        except MalformedEvent:
            return None

    async def _handle_run(self, run: list[tuple[ConsumerRecord[bytes, bytes], Envelope]]) -> None:
        """A run through its batch handler; when that fails, record by record."""
        if len(run) == 1:
            await self._handle(*run[0])
            return
        envelopes = [envelope for _, envelope in run]
        started = time.perf_counter()
        try:
            with bound_contextvars(batch=len(run)):
                await self._router.dispatch_batch(envelopes)
        except Exception as exc:
            # every effect is idempotent: the records the run already moved are skipped as
            # redeliveries by the one-by-one handlers, which retry or dead-letter the rest
            EVENTS_RETRIED.labels(self._service, self.group, envelopes[0].type).inc()
            log.warning(
                "batch failed; handling its records one by one",
                type=envelopes[0].type,
                records=len(run),
                group=self.group,
                error=f"{type(exc).__name__}: {exc}",
            )
            for record, envelope in run:
                await self._handle(record, envelope)
            return
        each = (time.perf_counter() - started) / len(run)
        for record, envelope in run:
            EVENT_HANDLER_LATENCY.labels(self._service, self.group, envelope.type).observe(each)
            EVENTS_CONSUMED.labels(
                self._service, self.group, record.topic, envelope.type, "ok"
            ).inc()

    async def _commit_processed(self) -> None:
        if not self._uncommitted or self._consumer is None:
            return
        offsets, self._uncommitted = self._uncommitted, {}
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError as exc:
            # a rebalance moved the partition: its new owner gets the records again, and
            # every effect is idempotent, so a redelivery is harmless
            log.warning("commit lost to a rebalance", group=self.group, error=str(exc))
        except KafkaError as exc:
            # a transient failure (the coordinator moving, a timeout): commit these offsets with
            # the next commit. Dropped, a partition whose records had all been handled stayed
            # behind for good (nothing new to commit), its lag never back to 0
            for tp, offset in offsets.items():
                self._uncommitted[tp] = max(offset, self._uncommitted.get(tp, offset))
            log.warning(
                "commit failed; retried with the next one", group=self.group, error=str(exc)
            )

    async def _handle(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope | None = None
    ) -> None:
        """One record; ``envelope``: the record already read (None: read it here)."""
        topic = record.topic
        if record.value is None:
            await self._handle_tombstone(record)
            return
        if envelope is None:
            try:
                envelope = from_record(record.value, list(record.headers))
            except MalformedEvent as exc:
                await self._dead_letter(record, exc, "unknown")
                return
        if not self._router.handles(envelope.type):
            EVENTS_CONSUMED.labels(self._service, self.group, topic, envelope.type, "skipped").inc()
            return
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                # the effect is a child span of the event's trace: what the handlers publish
                # carries it on (shared.tracing); log lines get its trace id
                with (
                    continued_span(
                        f"{envelope.type} process",
                        envelope.traceparent,
                        kind=SpanKind.CONSUMER,
                        attributes={"messaging.destination.name": topic, "event.id": envelope.id},
                    ),
                    bound_contextvars(event_id=envelope.id, tenant=envelope.tenant),
                ):
                    await self._router.dispatch(envelope)
            except MalformedEvent as exc:
                await self._dead_letter(record, exc, envelope.type)
                return
            except Exception as exc:
                transient = is_transient(exc)
                if not transient and attempt >= self._poison_attempts:
                    log.exception(
                        "handler keeps failing; dead-lettering",
                        type=envelope.type,
                        event_id=envelope.id,
                        group=self.group,
                    )
                    await self._dead_letter(record, exc, envelope.type)
                    return
                EVENTS_RETRIED.labels(self._service, self.group, envelope.type).inc()
                delay = self._wait(_RetryState(attempt))  # type: ignore[arg-type]
                log.warning(
                    "handler failed; retrying",
                    type=envelope.type,
                    event_id=envelope.id,
                    attempt=attempt,
                    transient=transient,
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in_s=round(delay, 2),
                )
                await self._sleep_unless_stopping(delay)
                continue
            EVENT_HANDLER_LATENCY.labels(self._service, self.group, envelope.type).observe(
                time.perf_counter() - started
            )
            EVENTS_CONSUMED.labels(self._service, self.group, topic, envelope.type, "ok").inc()
            return

    async def _handle_tombstone(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """A null value is a deletion marker, not a malformed event: hand it to the router's
        tombstone handlers, retrying failures like any effect (never dead-lettered: nothing in
        a key and a null value can be wrong)."""
        headers = dict(record.headers or ())
        tenant = headers.get("ce_tenant")
        tombstone = Tombstone(
            topic=record.topic.removeprefix(self._settings.topic_prefix),
            key=(record.key or b"").decode("utf-8", "replace"),
            tenant=tenant.decode("utf-8", "replace") if tenant else None,
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                handled = await self._router.dispatch_tombstone(tombstone)
            except Exception as exc:
                EVENTS_RETRIED.labels(self._service, self.group, "tombstone").inc()
                delay = self._wait(_RetryState(attempt))  # type: ignore[arg-type]
                log.warning(
                    "tombstone handler failed; retrying",
                    key=tombstone.key,
                    attempt=attempt,
                    error=f"{type(exc).__name__}: {exc}",
                )
                await self._sleep_unless_stopping(delay)
                continue
            outcome = "ok" if handled else "skipped"
            EVENTS_CONSUMED.labels(
                self._service, self.group, record.topic, "tombstone", outcome
            ).inc()
            return

    async def _sleep_unless_stopping(self, delay: float) -> None:
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if self._stopping:
                raise _Stopping
            await asyncio.sleep(min(0.1, deadline - time.monotonic()))

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], exc: BaseException, event_type: str
    ) -> None:
        headers = [
            *[(k, v) for k, v in record.headers if not k.startswith("dlq_")],
            ("dlq_error", f"{type(exc).__name__}: {exc}"[:2000].encode()),
            ("dlq_error_type", type(exc).__name__.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.group.encode()),
            ("dlq_failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        while True:
            try:
                await self._producer.send_raw(
                    dlq(record.topic),
                    key=record.key,
                    value=record.value,
                    headers=headers,
                )
                break
            except Unavailable:
                await self._sleep_unless_stopping(1.0)
        EVENTS_DEAD_LETTERED.labels(self._service, self.group, record.topic).inc()
        EVENTS_CONSUMED.labels(
            self._service, self.group, record.topic, event_type, "dead_lettered"
        ).inc()

    async def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await consumer.position(tp)
            except KafkaError:
                continue
            CONSUMER_LAG.labels(self._service, self.group, tp.topic, str(tp.partition)).set(
                max(0, highwater - position)
            )


class _RetryState:
    """The little of tenacity's RetryCallState that its wait strategies read."""

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions move, finish the fetch in hand and commit what is done."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._runner._in_flight:
            await self._runner._commit_processed()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None
