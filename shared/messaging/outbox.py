"""The embedded outbox: events ride in the aggregate document, a relay publishes them.

A use case writes the state change and its events (``pending_events``) in one document update,
so no event is lost between the write and the publish and no multi-document transaction is
needed. The relay publishes a document's pending events in order, waits for the broker's ack,
then removes exactly those entries with ``$pullAll`` (FerretDB 1.24 ignores ``$pull`` with a
condition, exact values work on both stores). A crash between publish and removal publishes the
same event ids again; consumers are idempotent on event id.

A hot writer may publish its own events instead (:meth:`Outbox.publish_held`): it saves them
*held* (``held_events``, with ``relay_after`` ``hold_s`` ahead), publishes them right after the
save, and its next save replaces them (:func:`held_outbox`). So a document the writer keeps
changing costs one write per change instead of two (the write and the relay's clear), and its
events go out at once instead of after the relay's next round. The relay clears a hold that has
passed (publishing what this process has not published), so a crash between a save and its
publish delays those events by two ``hold_s`` at most (the hold, then the relay's next look);
the next held save of the document publishes them first too. A document's events are its held
entries, then its pending ones: whoever publishes from a document publishes what it does not
know as published in that order.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import bson
from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from shared.background import BackgroundLoop
from shared.errors import Unavailable
from shared.events.envelope import Envelope
from shared.mongo import ensure_indexes
from shared.observability import OUTBOX_OLDEST_AGE, OUTBOX_PENDING, OUTBOX_RELAYED, get_logger

log = get_logger(__name__)

PENDING = "pending_events"
HAS_PENDING = {f"{PENDING}.0": {"$exists": True}}
HELD = "held_events"  # published by their writer; replaced by its next save (packed)
RELAY_AFTER = "relay_after"  # when the relay takes over held events (their writer died)


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


def held_outbox(
    update: dict[str, Any], events: Sequence[Envelope], relay_after: datetime
) -> dict[str, Any]:
    """Merge a *held* outbox into an update document: ``events`` replace every entry the
    document holds, held and pending.

    Only for a writer that published every entry it read (:meth:`Outbox.publish_held`, in the
    order of :func:`entries`), with the update guarded by the version it read them at, so no
    entry it has not seen is dropped (every write that adds one changes the version).
    """
    merged = dict(update)
    merged["$set"] = {
        **update.get("$set", {}),
        HELD: [packed(e) for e in events],
        PENDING: [],
        RELAY_AFTER: relay_after,
    }
    return merged


def packed(event: Envelope) -> bytes:
    """A held entry: its outbox document as BSON bytes. Held entries ride in a document its
    writer rewrites on every change and nobody queries by their fields; packed, FerretDB keeps
    one binary value instead of a nested document with a type schema for each of its fields
    (a progress event 2.3 kB as FerretDB kept it nested, 1.2 kB packed) and decodes it on every
    read and update."""
    return bson.encode(event.to_document())


def unpacked(entry: bytes | dict[str, Any]) -> Envelope:
    """An outbox entry, packed (held) or a document (pending, and held before packing)."""
    return Envelope.from_document(bson.decode(entry) if isinstance(entry, bytes) else entry)


def entries(doc: dict[str, Any]) -> list[Envelope]:
    """A document's events in their order: the held ones (older), then the pending ones."""
    return [unpacked(e) for e in [*(doc.get(HELD) or ()), *(doc.get(PENDING) or ())]]


class PublishedIds:
    """The ids of the events this process published lately (bounded, oldest forgotten first).

    What the relay and the held writers share: an entry found here was acknowledged by the
    broker and needs clearing, not publishing. An id forgotten (or published by another
    replica) is published again, which consumers absorb (idempotent on event id).
    """

    def __init__(self, max_ids: int = 200_000) -> None:
        self._max = max_ids
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            self._ids[event_id] = None
            self._ids.move_to_end(event_id)
        while len(self._ids) > self._max:
            self._ids.popitem(last=False)

    def unknown(self, events: Iterable[Envelope]) -> list[Envelope]:
        """The events among ``events`` not published by this process, in order."""
        return [e for e in events if e.id not in self._ids]


OUTBOX_INDEX = IndexModel([(f"{PENDING}.0", ASCENDING)], sparse=True, name="outbox_pending")
HELD_INDEX = IndexModel([(RELAY_AFTER, ASCENDING)], sparse=True, name="outbox_held")


async def ensure_outbox_index(collection: AsyncCollection[dict[str, Any]]) -> None:
    """The sparse indexes the relay's polls use: documents whose outbox holds an event, and
    documents with a hold (``relay_after``).

    Without it every poll reads the whole collection (on the local FerretDB, a sequential scan
    of every document, many times a second under load, since every write with events wakes the
    relay); with it a poll costs the few documents that have something to publish. It is the
    one index without ``tenant`` first: the relay serves every tenant. The local FerretDB
    keeps it as a PostgreSQL partial index (``deploy/local/ferretdb.patch``).
    """
    await ensure_indexes(collection.database, {collection.name: [OUTBOX_INDEX, HELD_INDEX]})


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
        published: PublishedIds | None = None,
        hold_s: float = 30.0,
    ) -> None:
        self._collection = collection
        self._publisher = publisher
        self._service = service
        self._batch = batch
        self.published = published if published is not None else PublishedIds()
        # one round at a time in the process: a drain beside the loop found the same documents
        # and published their events twice
        self._rounds = asyncio.Lock()
        # each look reads the time of every held document (on the local store, a scan of the
        # whole collection: FerretDB evaluates a range outside the index), so it looks once a
        # hold, not more often: a crash's events wait two holds at most
        self._expiry_interval_s = hold_s
        self._next_expiry = time.monotonic() + self._expiry_interval_s
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
        busy = await self.relay_once() >= self._batch
        if time.monotonic() >= self._next_expiry:
            self._next_expiry = time.monotonic() + self._expiry_interval_s
            busy = await self.expire_holds() >= self._batch or busy
        return busy

    async def relay_once(self) -> int:
        """Publish and clear up to ``batch`` documents' outboxes; return how many were relayed."""
        # one publish for the whole round, acknowledged together, then one bulk clear: a
        # document at a time (a broker round trip and a store round trip each) capped the
        # relay at a few dozen documents a second, so under load events waited seconds in
        # the outbox. Each document's events keep their order (same key, same partition); a
        # crash before the clear publishes them again, as before. Held events are left to
        # their writer, but published first if this process has not (their writer died).
        async with self._rounds:
            return await self._publish_and_clear(
                HAS_PENDING,
                {PENDING: 1, HELD: 1},
                lambda doc: UpdateOne({"_id": doc["_id"]}, {"$pullAll": {PENDING: doc[PENDING]}}),
                # before the publish: with the broker away, the backlog is what shows it
                found=self._observe_backlog,
            )

    async def expire_holds(self, *, now: datetime | None = None) -> int:
        """Clear the held events whose ``relay_after`` has passed, publishing what this process
        has not published; return how many documents. Rare (every ``hold_s``): the query
        reads every held document's time."""
        async with self._rounds:
            return await self._publish_and_clear(
                {RELAY_AFTER: {"$lte": now or datetime.now(UTC)}},
                {PENDING: 1, HELD: 1, RELAY_AFTER: 1},
                # a newer held save replaced the entries and the time: then this matches nothing
                lambda doc: UpdateOne(
                    {"_id": doc["_id"], RELAY_AFTER: doc[RELAY_AFTER]},
                    {"$unset": {HELD: "", RELAY_AFTER: ""}},
                ),
            )

    async def _publish_and_clear(
        self,
        query: dict[str, Any],
        projection: dict[str, Any],
        clear: Callable[[dict[str, Any]], UpdateOne],
        *,
        found: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> int:
        """Up to ``batch`` documents ``query`` finds (shown to ``found`` first): their
        unpublished entries published in one acknowledged send, then each document's ``clear``
        in one bulk write; return how many documents."""
        docs = [doc async for doc in self._collection.find(query, projection).limit(self._batch)]
        if found is not None:
            found(docs)
        if docs:
            await self._publish(docs)
            await self._collection.bulk_write([clear(doc) for doc in docs], ordered=False)
        return len(docs)

    async def _publish(self, docs: list[dict[str, Any]]) -> None:
        events = self.published.unknown(e for doc in docs for e in entries(doc))
        if events:
            await self._publisher.publish_many(events)
            self.published.add(e.id for e in events)
        OUTBOX_RELAYED.labels(self._service, self._collection.name).inc(len(events))

    def _observe_backlog(self, docs: list[dict[str, Any]]) -> None:
        OUTBOX_PENDING.labels(self._service, self._collection.name).set(len(docs))
        times = [entry["time"] for doc in docs for entry in doc[PENDING][:1]]
        oldest = min((t if t.tzinfo else t.replace(tzinfo=UTC) for t in times), default=None)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self._service, self._collection.name).set(max(0.0, age))

    async def settled(self) -> bool:
        """True when no document of the collection holds an event this process has not
        published (held events its writers published count as published)."""
        query = {"$or": [HAS_PENDING, {f"{HELD}.0": {"$exists": True}}]}
        async for doc in self._collection.find(query, {PENDING: 1, HELD: 1}):
            if self.published.unknown(entries(doc)):
                return False
        return True

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Relay until nothing is pending or held (tests and shutdown)."""
        deadline = time.monotonic() + timeout_s
        far = datetime.now(UTC) + timedelta(days=366)
        while await self.relay_once() or await self.expire_holds(now=far):
            if time.monotonic() > deadline:
                raise Unavailable("outbox did not drain in time")


class Outbox:
    """The relays of every outbox collection of one service; ``notify`` wakes them all."""

    def __init__(self, publisher: Publisher | None = None, *, hold_s: float = 30.0) -> None:
        self.relays: list[OutboxRelay] = []
        self.published = PublishedIds()  # shared with the relays
        self.hold_s = hold_s
        self._publisher = publisher

    def relay_after(self) -> datetime:
        """Until when a held write's events are left to their writer."""
        return datetime.now(UTC) + timedelta(seconds=self.hold_s)

    async def publish_held(self, events: Sequence[Envelope]) -> None:
        """Publish what a held writer saved (or found held by an earlier writer), in order,
        skipping what this process already published."""
        fresh = self.published.unknown(events)
        if not fresh:
            return
        if self._publisher is None:
            raise RuntimeError("this outbox has no publisher for held events")
        await self._publisher.publish_many(fresh)
        self.published.add(e.id for e in fresh)

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
