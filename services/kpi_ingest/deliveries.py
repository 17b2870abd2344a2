"""Which webhook deliveries were accepted, known to every replica without a store read per request.

A document store round trip per webhook caps ingest at what the store answers (FerretDB on this
kind of machine: a few hundred lookups a second, far fewer while other work runs), so the hot path
asks memory only, and replicas share what they accepted through a journal in the store:

- each replica appends the deliveries it accepted, in batches, as journal entries keyed
  ``<replica>:<sequence>`` by ``_id`` (sequence 0, 1, 2, ... without gaps); a batch gathers for
  ``gather_s`` (0.1 s) before it is written, so the store sees at most ten inserts a second per
  replica, not one per webhook (at 200 webhooks a second, one insert each came to 200);
- each replica reads every other replica's next entry by ``_id`` (the one filter FerretDB 1.x
  pushes down) a few times a second, until there is none: a handful of primary-key lookups a
  second, whatever the webhook rate;
- the replicas are found in a small ``replicas`` collection (one heartbeat document each);
- at start-up a replica loads the journal of the replay window.

So a retry that reaches another replica is recognised once that replica has read the journal:
within 0.6 s of the first attempt's 2xx, while senders retry after a timeout of several seconds.
Inside that window (or while the store does not answer), a repeat is published again under the
same deterministic event ids, which consumers store once: nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.observability import get_logger
from shared.time import as_utc

log = get_logger(__name__)

HEARTBEAT_S = 30.0


class DeliveryLog:
    def __init__(
        self,
        journal: Any,
        replicas: Any,
        *,
        remembered: int = 200_000,
        max_batch: int = 5000,
        poll_interval_s: float = 0.5,
        gather_s: float = 0.1,
    ) -> None:
        self._journal = journal
        self._replicas = replicas
        self.replica = f"r{uuid.uuid4().hex[:12]}"
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered
        self._max_batch = max_batch
        self._poll_interval_s = poll_interval_s
        self._gather_s = gather_s
        self._sequence = 0
        self._pending: list[str] = []
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._read_up_to: dict[str, int] = {}  # replica -> next sequence to read
        self._in_flight: dict[str, asyncio.Future[bool] | None] = {}

    # ---------------------------------------------------------------- life

    @classmethod
    async def opened(cls, journal: Any, replicas: Any, since: datetime) -> DeliveryLog:
        """A started log: it knows the journal since ``since`` and follows the other replicas."""
        deliveries = cls(journal, replicas)
        await deliveries.start(since)
        return deliveries

    async def start(self, since: datetime) -> None:
        """Learn the journal of the replay window, announce this replica, follow the others."""
        async for entry in self._journal.find({"at": {"$gte": since}}):
            self._learn_all(entry["keys"])
            replica, sequence = entry["replica"], entry["seq"]
            self._read_up_to[replica] = max(self._read_up_to.get(replica, 0), sequence + 1)
        await self._heartbeat()
        self._reader = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.flush()
        try:
            await self._replicas.delete_one({"_id": self.replica})
        except PyMongoError:
            pass  # its heartbeat ages out

    # ---------------------------------------------------------------- questions

    def accepted(self, key: str) -> bool:
        """Was this delivery accepted, by this replica or (as far as the journal says) another?"""
        return key in self._recent

    async def claim(self, key: str) -> bool:
        """True: this attempt publishes ``key``; False: a concurrent attempt of the same id in
        this process has just been accepted (this one is a duplicate)."""
        while key in self._in_flight:
            # the first attempt to wait makes the future: a lone attempt (nearly all) makes none
            waiting = self._in_flight[key]
            if waiting is None:
                waiting = self._in_flight[key] = asyncio.get_running_loop().create_future()
            if await asyncio.shield(waiting):
                return False
        self._in_flight[key] = None
        return True

    def release(self, key: str, accepted: bool) -> None:
        """End this attempt's claim; waiting attempts learn whether it was accepted."""
        waiting = self._in_flight.pop(key, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(accepted)

    # ---------------------------------------------------------------- records

    def remember(self, key: str) -> None:
        """Known at once to this process; in the journal after the next write."""
        self._learn(key)
        self._pending.append(key)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    def _learn(self, key: str) -> None:
        self._recent[key] = None
        if len(self._recent) > self._remembered:
            self._recent.popitem(last=False)

    def _learn_all(self, keys: list[str]) -> None:
        for key in keys:
            self._learn(key)

    async def _write(self) -> None:
        while self._pending:
            await asyncio.sleep(self._gather_s)
            keys = self._pending[: self._max_batch]
            entry = {
                "_id": f"{self.replica}:{self._sequence}",
                "replica": self.replica,
                "seq": self._sequence,
                "keys": keys,
                "at": datetime.now(UTC),
            }
            try:
                await self._journal.insert_one(entry)
            except DuplicateKeyError:
                pass  # written by an attempt whose answer was lost
            except PyMongoError as exc:
                # the store is down: keep them (bounded) and try again shortly
                log.warning("journaling webhook deliveries failed; retrying", error=str(exc))
                self._pending = self._pending[-self._remembered :]
                await asyncio.sleep(1.0)
                continue
            self._sequence += 1
            del self._pending[: len(keys)]

    async def flush(self) -> None:
        """Wait until every remembered delivery is journaled (tests and shutdown)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait_for(asyncio.shield(self._writer), 10)

    # ---------------------------------------------------------------- following the others

    async def sync(self) -> int:
        """Read every other replica's journal up to its end; the number of entries read."""
        read = 0
        horizon = datetime.now(UTC) - timedelta(seconds=3 * HEARTBEAT_S)
        async for doc in self._replicas.find({}):
            replica = doc["_id"]
            seen = doc.get("seen")
            if replica == self.replica or (seen is not None and as_utc(seen) < horizon):
                continue
            sequence = self._read_up_to.get(replica, 0)
            while True:
                entry = await self._journal.find_one({"_id": f"{replica}:{sequence}"})
                if entry is None:
                    break
                self._learn_all(entry["keys"])
                sequence += 1
                read += 1
            self._read_up_to[replica] = sequence
        return read

    async def _heartbeat(self) -> None:
        await self._replicas.update_one(
            {"_id": self.replica}, {"$set": {"seen": datetime.now(UTC)}}, upsert=True
        )

    async def _follow(self) -> None:
        beat_every = max(1, int(HEARTBEAT_S / self._poll_interval_s))
        rounds = 0
        while True:
            await asyncio.sleep(self._poll_interval_s)
            rounds += 1
            try:
                if rounds % beat_every == 0:
                    await self._heartbeat()
                await self.sync()
            except PyMongoError as exc:
                log.warning("reading the webhook delivery journal failed", error=str(exc))
