"""Which webhook deliveries were already published: known in memory, written behind in batches.

The document store behind Northstar may be FerretDB on SQLite, where one write costs several
milliseconds and writes are serialised (a lookup plus an insert per webhook capped ingest below a
hundred requests a second here). So the hot path asks memory only:

- at start-up the process loads the deliveries of the replay window (pruned after an hour);
- ``remember`` adds a delivery to memory at once and to the store in batches (``insert_many``,
  unordered, duplicates ignored) by a background flusher, right after Kafka acknowledged it.

A repeat that reaches another replica, or arrives after a crash that beat the flush (a fraction
of a second), publishes the same deterministic event ids again and consumers store them once:
nothing is lost and nothing is counted twice; only the "not published again" is best effort.
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
        self, collection: Any, *, remembered: int = 100_000, max_batch: int = 1000
    ) -> None:
        self._collection = collection
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered
        self._max_batch = max_batch
        self._writes: list[Document] = []
        self._writer: asyncio.Task[None] | None = None

    async def load(self, since: datetime) -> int:
        """Learn the deliveries recorded since ``since`` (start-up)."""
        cursor = self._collection.find({"at": {"$gte": since}}, {"_id": 1}).limit(self._remembered)
        async for doc in cursor:
            self._recent[doc["_id"]] = None
        return len(self._recent)

    def seen(self, key: str) -> bool:
        return key in self._recent

    # ---------------------------------------------------------------- records

    def remember(self, tenant: str, key: str, points: int, at: datetime) -> None:
        """Known at once to this process; in the document store after the next flush."""
        self._recent[key] = None
        if len(self._recent) > self._remembered:
            self._recent.popitem(last=False)
        self._writes.append({"_id": key, "tenant": tenant, "points": points, "at": at})
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self._writes:
            batch, self._writes = self._writes[: self._max_batch], self._writes[self._max_batch :]
            try:
                await self._collection.insert_many(batch, ordered=False)
            except BulkWriteError as exc:
                others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
                if others:
                    log.warning("webhook deliveries not recorded", errors=others[:3])
            except PyMongoError as exc:
                # the store is down: keep them (bounded) and try again shortly
                log.warning("recording webhook deliveries failed; retrying", error=str(exc))
                self._writes = (batch + self._writes)[-self._remembered :]
                await asyncio.sleep(1.0)

    async def flush(self) -> None:
        """Wait until every remembered delivery is written (tests and shutdown)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait_for(asyncio.shield(self._writer), 10)
