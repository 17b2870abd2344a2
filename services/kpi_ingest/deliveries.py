"""Which webhook deliveries were accepted: shared by every replica through the document store.

A delivery is keyed ``<source id>:<webhook-id>`` and stored under that ``_id``, the one filter
FerretDB 1.x pushes down to its backend (a primary-key lookup, whatever the collection's size).

- ``accepted`` answers from this process's memory, else from the store (a retry that reaches
  another replica is recognised there);
- ``remember`` records a published delivery: at once in memory, and in the store by a group
  commit (one ``insert_many`` for every delivery published meanwhile); the webhook's 2xx waits
  for that commit (bounded), so once a sender holds its 2xx, any replica knows the id;
- ``claim`` makes concurrent attempts of one id in this process wait for the first one's outcome
  (a sender that timed out and retried while the first attempt was still publishing).

If the store does not answer, ingest still accepts (the points are in Kafka): a repeat may then
be published again, under the same deterministic event ids, which consumers store once.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, PyMongoError

from shared.mongo import Document
from shared.observability import get_logger

log = get_logger(__name__)


class DeliveryLog:
    def __init__(
        self,
        collection: Any,
        *,
        remembered: int = 100_000,
        max_batch: int = 1000,
        lookup_timeout_s: float = 2.0,
        commit_timeout_s: float = 2.0,
    ) -> None:
        self._collection = collection
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered
        self._max_batch = max_batch
        self._lookup_timeout_s = lookup_timeout_s
        self._commit_timeout_s = commit_timeout_s
        self._writes: list[tuple[Document, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._in_flight: dict[str, asyncio.Future[bool]] = {}

    async def load(self, since: datetime) -> int:
        """Learn the deliveries recorded since ``since`` (start-up: saves lookups later)."""
        cursor = self._collection.find({"at": {"$gte": since}}, {"_id": 1}).limit(self._remembered)
        async for doc in cursor:
            self._recent[doc["_id"]] = None
        return len(self._recent)

    # ---------------------------------------------------------------- questions

    async def claim(self, key: str) -> bool:
        """True: this attempt publishes ``key``; False: a concurrent attempt of the same id in
        this process has just been accepted (this one is a duplicate)."""
        while (running := self._in_flight.get(key)) is not None:
            if await asyncio.shield(running):
                return False
        self._in_flight[key] = asyncio.get_running_loop().create_future()
        return True

    def release(self, key: str, accepted: bool) -> None:
        """End this attempt's claim; waiting attempts learn whether it was accepted."""
        running = self._in_flight.pop(key, None)
        if running is not None and not running.done():
            running.set_result(accepted)

    async def accepted(self, key: str) -> bool:
        """Was this delivery accepted before, by this replica or another one?"""
        if key in self._recent:
            return True
        try:
            async with asyncio.timeout(self._lookup_timeout_s):
                found = await self._collection.find_one({"_id": key}, {"_id": 1})
        except (PyMongoError, TimeoutError) as exc:
            log.warning("webhook delivery lookup failed; treating it as new", error=str(exc))
            return False
        if found is not None:
            self._learn(key)
        return found is not None

    # ---------------------------------------------------------------- records

    def _learn(self, key: str) -> None:
        self._recent[key] = None
        if len(self._recent) > self._remembered:
            self._recent.popitem(last=False)

    async def remember(self, tenant: str, key: str, points: int, at: datetime) -> None:
        """Known at once to this process; returns once the store has it (or the commit timed
        out, which is logged: the delivery is accepted either way)."""
        self._learn(key)
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writes.append(({"_id": key, "tenant": tenant, "points": points, "at": at}, committed))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._flush_loop())
        try:
            async with asyncio.timeout(self._commit_timeout_s):
                await asyncio.shield(committed)
        except TimeoutError:
            log.warning("webhook delivery not yet in the store; accepting it anyway", key=key)

    async def _flush_loop(self) -> None:
        while self._writes:
            batch, self._writes = self._writes[: self._max_batch], self._writes[self._max_batch :]
            try:
                await self._collection.insert_many([doc for doc, _ in batch], ordered=False)
            except BulkWriteError as exc:
                others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
                if others:
                    log.warning("webhook deliveries not recorded", errors=others[:3])
            except PyMongoError as exc:
                # the store is down: keep them (bounded) and try again shortly
                log.warning("recording webhook deliveries failed; retrying", error=str(exc))
                self._writes = (batch + self._writes)[-self._remembered :]
                await asyncio.sleep(1.0)
                continue
            for _, committed in batch:
                if not committed.done():
                    committed.set_result(None)

    async def flush(self) -> None:
        """Wait until every remembered delivery is written (tests and shutdown)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait_for(asyncio.shield(self._writer), 10)
