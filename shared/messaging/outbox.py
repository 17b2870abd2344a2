"""The embedded outbox: events ride in the aggregate document, a relay publishes them.

A use case writes the state change and its events (``pending_events``) in one document update,
so no event is lost between the write and the publish and no multi-document transaction is
needed. The relay publishes a document's pending events in order, waits for the broker's ack,
then removes exactly those entries with ``$pullAll`` (FerretDB 1.24 ignores ``$pull`` with a
condition, exact values work on both stores). A crash between publish and removal publishes the
same event ids again; consumers are idempotent on event id.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from shared.background import BackgroundLoop
from shared.errors import Unavailable
from shared.events.envelope import Envelope
from shared.observability import OUTBOX_OLDEST_AGE, OUTBOX_PENDING, OUTBOX_RELAYED, get_logger

log = get_logger(__name__)

PENDING = "pending_events"
HAS_PENDING = {f"{PENDING}.0": {"$exists": True}}


class HasOutbox(Protocol):
    """A repository whose aggregates carry an outbox: it names the collections they live in."""

    @property
    def outboxes(self) -> Sequence[AsyncCollection[dict[str, Any]]]: ...


class Publisher(Protocol):
    async def publish_many(
        self, envelopes: Sequence[Envelope], topic: str | None = None
    ) -> None: ...


def outbox_push(events: Sequence[Envelope]) -> dict[str, Any]:
    """The ``$push`` clause that appends events to a document's outbox in the same update."""
    return {PENDING: {"$each": [e.to_document() for e in events]}}


def with_outbox(update: dict[str, Any], events: Sequence[Envelope]) -> dict[str, Any]:
    """Merge an outbox push into an update document."""
    if not events:
        return update
    merged = dict(update)
    merged["$push"] = {**update.get("$push", {}), **outbox_push(events)}
    return merged


OUTBOX_INDEX = IndexModel([(f"{PENDING}.0", ASCENDING)], sparse=True, name="outbox_pending")


async def ensure_outbox_index(collection: AsyncCollection[dict[str, Any]]) -> None:
    """The sparse index the relay's poll uses: only documents whose outbox holds an event.

    Without it every poll reads the whole collection (on the local FerretDB, a sequential scan
    of every document, many times a second under load, since every write with events wakes the
    relay); with it a poll costs the few documents that have something to publish. It is the
    one index without ``tenant`` first: the relay serves every tenant. The local FerretDB
    keeps it as a PostgreSQL partial index (``deploy/local/ferretdb.patch``).
    """
    await collection.create_indexes([OUTBOX_INDEX])


class OutboxRelay:
    """Publishes and clears the outbox of every document in one collection."""

    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        publisher: Publisher,
        *,
        service: str,
        poll_interval_s: float = 0.5,
        batch: int = 100,
    ) -> None:
        self._collection = collection
        self._publisher = publisher
        self._service = service
        self._batch = batch
        self._loop = BackgroundLoop(f"outbox-{collection.name}", self._round, poll_interval_s)

    def notify(self) -> None:
        """Called after a write with events: relay now rather than at the next poll."""
        self._loop.notify()

    async def start(self) -> None:
        await ensure_outbox_index(self._collection)
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop(timeout_s=10)

    async def _round(self) -> bool:
        return await self.relay_once() >= self._batch

    async def relay_once(self) -> int:
        """Publish and clear up to ``batch`` documents' outboxes; return how many were relayed."""
        docs = [
            doc async for doc in self._collection.find(HAS_PENDING, {PENDING: 1}).limit(self._batch)
        ]
        self._observe_backlog(docs)
        if not docs:
            return 0
        # one publish for the whole round, acknowledged together, then one bulk clear: a
        # document at a time (a broker round trip and a store round trip each) capped the
        # relay at a few dozen documents a second, so under load events waited seconds in
        # the outbox. Each document's events keep their order (same key, same partition); a
        # crash before the clear publishes them again, as before.
        events = [Envelope.from_document(entry) for doc in docs for entry in doc[PENDING]]
        await self._publisher.publish_many(events)
        await self._collection.bulk_write(
            [UpdateOne({"_id": doc["_id"]}, {"$pullAll": {PENDING: doc[PENDING]}}) for doc in docs],
            ordered=False,
        )
        OUTBOX_RELAYED.labels(self._service, self._collection.name).inc(len(events))
        return len(docs)

    def _observe_backlog(self, docs: list[dict[str, Any]]) -> None:
        OUTBOX_PENDING.labels(self._service, self._collection.name).set(len(docs))
        times = [entry["time"] for doc in docs for entry in doc[PENDING][:1]]
        oldest = min((t if t.tzinfo else t.replace(tzinfo=UTC) for t in times), default=None)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self._service, self._collection.name).set(max(0.0, age))

    async def settled(self) -> bool:
        """True when no document of the collection holds an unpublished event."""
        return await self._collection.find_one(HAS_PENDING, {"_id": 1}) is None

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Relay until nothing is pending (tests and shutdown)."""
        deadline = time.monotonic() + timeout_s
        while await self._collection.find_one(HAS_PENDING, {"_id": 1}) is not None:
            if time.monotonic() > deadline:
                raise Unavailable("outbox did not drain in time")
            await self.relay_once()


class Outbox:
    """The relays of every outbox collection of one service; ``notify`` wakes them all."""

    def __init__(self) -> None:
        self.relays: list[OutboxRelay] = []

    def notify(self) -> None:
        """Called after a write with events: relay now rather than at the next poll."""
        for relay in self.relays:
            relay.notify()

    async def settled(self) -> bool:
        """True when every event written so far has been published and acknowledged (the
        relay removes an event only after the broker's ack): tests read "nothing more" off
        the topic from here instead of waiting for it to go quiet."""
        for relay in self.relays:
            if not await relay.settled():
                return False
        return True

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Relay until nothing is pending in any collection (tests and shutdown)."""
        for relay in self.relays:
            await relay.drain(timeout_s)
