"""Who gets in: a bound on the work in progress, and per-source rate limits shared by replicas.

Overload is answered, not suffered: past ``max_requests`` webhooks (or ``max_bytes`` of bodies)
in progress in this process, a webhook is answered 503 with ``Retry-After`` at once, before its
body is read, instead of queueing behind the others until the sender's timeout fires. The bound
also bounds how long an admitted request can wait here (the work ahead of it).

Per-source limits hold across replicas without a store write per request: time is cut into
windows of ``burst / rate`` seconds, each allowing ``burst`` requests; a replica claims the
window's tokens in leases (``lease`` tokens each) by inserting the lease's document, keyed
``<source>:<window>:<lease number>`` by ``_id``. The backend's primary key makes a claim atomic
(FerretDB 1.x's ``$inc`` of one document under concurrent writers is not) and a lookup by
``_id`` is the one filter FerretDB pushes down. A replica spends its lease from memory, so the
store sees about ``rate / lease`` inserts per second per busy source. The next lease (and the
next window's first) is claimed ahead; a request waits at most ``max_wait_s`` for a claim, then
passes on credit, so a slow store costs some precision, never a stalled webhook.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.errors import TooManyRequests, Unavailable
from shared.observability import get_logger

log = get_logger(__name__)


class Admission:
    """A bound on the webhooks in progress (count and body bytes) in this process."""

    def __init__(self, max_requests: int, max_bytes: int, retry_after_s: int = 1) -> None:
        self._max_requests = max_requests
        self._max_bytes = max_bytes
        self._retry_after_s = retry_after_s
        self.requests = 0
        self.bytes = 0

    @asynccontextmanager
    async def slot(self, size: int) -> AsyncIterator[None]:
        """Raises Unavailable (503, Retry-After) at once when the process is full."""
        # one request is always admitted, however large, or a big batch could never get in
        if self.requests >= self._max_requests or (
            self.requests and self.bytes + size > self._max_bytes
        ):
            raise Unavailable(
                "ingest is at capacity; retry after the Retry-After interval",
                retry_after=self._retry_after_s,
            )
        self.requests += 1
        self.bytes += size
        try:
            yield
        finally:
            self.requests -= 1
            self.bytes -= size


@dataclass
class _Window:
    index: int
    tokens: int = 0
    next_lease: int = 0
    exhausted: bool = False
    claiming: asyncio.Task[None] | None = None


class SharedRateLimit:
    """``rate`` requests per second per source, ``burst`` at once, over all replicas."""

    def __init__(
        self,
        collection: Any,
        rate: float,
        burst: int,
        *,
        lease_s: float = 0.2,
        max_wait_s: float = 0.25,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._collection = collection
        self._burst = max(1, burst)
        self.window_s = self._burst / rate
        self.lease = max(1, min(self._burst, math.ceil(rate * lease_s)))
        self._leases = math.ceil(self._burst / self.lease)
        self._clock = clock
        self._max_wait_s = max_wait_s
        self._windows: dict[tuple[str, int], _Window] = {}
        self._lead_s = min(self.window_s / 2, 2.0)

    async def take(self, source_id: str) -> None:
        """One request's token; raises TooManyRequests (429, Retry-After) past the limit."""
        now = self._clock()
        index = int(now // self.window_s)
        window = self._window(source_id, index)
        # the next window's first lease is claimed ahead, so no request waits at the turn; one
        # lease, once: every request of the lead time claiming another let one replica take the
        # whole next window and answer 429 at the others
        if (index + 1) * self.window_s - now < self._lead_s:
            ahead = self._window(source_id, index + 1)
            if ahead.tokens <= 0:
                self._claim_soon(source_id, ahead)
        while True:
            if window.tokens > 0:
                window.tokens -= 1
                # the next lease is claimed while half of this one is left: requests rarely
                # wait for the store
                if 0 < window.tokens <= self.lease // 2:
                    self._claim_soon(source_id, window)
                return
            if window.exhausted:
                break
            self._claim_soon(source_id, window)
            assert window.claiming is not None
            try:
                async with asyncio.timeout(self._max_wait_s):
                    await asyncio.shield(window.claiming)
            except TimeoutError:
                # the store is slow: let this request through on credit (the lease, when it
                # comes, pays it back) rather than hold it; the excess is bounded by what
                # arrives during one claim
                window.tokens -= 1
                return
        retry_after = max(1, math.ceil((index + 1) * self.window_s - now))
        raise TooManyRequests(
            "this source sends faster than its rate limit", retry_after=retry_after
        )

    def _window(self, source_id: str, index: int) -> _Window:
        window = self._windows.get((source_id, index))
        if window is None:
            if len(self._windows) > 100_000:
                self._windows.clear()
            self._windows.pop((source_id, index - 2), None)  # past windows are done
            window = self._windows[(source_id, index)] = _Window(index)
        return window

    def _claim_soon(self, source_id: str, window: _Window) -> None:
        """One claim at a time per source and window; the requests that need it wait for it."""
        if window.claiming is None and not window.exhausted:
            window.claiming = asyncio.ensure_future(self._claim(source_id, window))

    async def _claim(self, source_id: str, window: _Window) -> None:
        try:
            await self._claim_lease(source_id, window)
        finally:
            window.claiming = None

    async def _claim_lease(self, source_id: str, window: _Window) -> None:
        while window.next_lease < self._leases:
            lease = window.next_lease
            window.next_lease += 1
            try:
                await self._collection.insert_one(
                    {"_id": f"{source_id}:{window.index}:{lease}", "at": datetime.now(UTC)}
                )
            except DuplicateKeyError:
                continue  # another replica holds this lease: try the next one
            except PyMongoError as exc:
                # the limit protects the pipeline; it is not worth refusing data over
                log.warning("rate limit lease not recorded; granting it locally", error=str(exc))
            window.tokens += min(self.lease, self._burst - lease * self.lease)
            return
        window.exhausted = True

    async def prune(self, older_than: datetime) -> None:
        await self._collection.delete_many({"at": {"$lt": older_than}})
