"""A small in-memory cache for what the hot paths read on every request or event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values (misses too) kept for ``ttl`` seconds; another replica's change shows after it.

    Concurrent misses of one key share one load, and an expired value keeps being served while
    it reloads: when an entry expires under load, one query goes to the store and no request
    waits for it (before, every request in progress queried the store, and all of them waited
    behind it, for longer than their senders' timeouts when the store was busy).

    A miss waits at most ``wait_s`` for its load (``TimeoutError``; the load goes on for the
    next request); a hit sets no timer, which on a webhook's hot path was a measurable cost.
    """

    def __init__(self, ttl: float, max_entries: int = 50_000, wait_s: float | None = None) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._wait_s = wait_s
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        found = self._entries.get(key)
        if found is not None and found[0] > time.monotonic():
            return found[1]
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.ensure_future(self._load(key, load))
            # a background reload's failure is retried by the next request, not reported
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
        if found is not None:
            return found[1]  # stale while it reloads
        async with asyncio.timeout(self._wait_s):
            return await asyncio.shield(task)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await load()
        finally:
            self._loading.pop(key, None)
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self._ttl, value)
        return value

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)
        self._loading.pop(key, None)  # a load in progress may predate the change
