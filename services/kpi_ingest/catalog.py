"""Sources and metric definitions, read through a short in-memory cache on the hot path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from services.kpi_ingest.domain import BUILTIN_METRICS, MetricDefinition, Source
from services.kpi_ingest.repository import KpiRepository

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values (misses too) kept for ``ttl`` seconds; another replica's change shows after it.

    Concurrent misses of one key share one load: when an entry expires under load, one query
    goes to the store, not one per request in progress (a stampede that once queued webhooks
    behind the document store for longer than their senders' timeouts).
    """

    def __init__(self, ttl: float, max_entries: int = 50_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        now = time.monotonic()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.ensure_future(load())
            task.add_done_callback(lambda _: self._loading.pop(key, None))
        value = await asyncio.shield(task)
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (now + self._ttl, value)
        return value

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)


class Catalog:
    """What the ingest path needs to know about sources and metrics, cached."""

    def __init__(self, repo: KpiRepository, ttl: float) -> None:
        self._repo = repo
        self._sources: TtlCache[str, Source | None] = TtlCache(ttl)
        self._metrics: TtlCache[str, dict[str, MetricDefinition]] = TtlCache(ttl)

    async def source(self, source_id: str) -> Source | None:
        return await self._sources.get(source_id, lambda: self._repo.source(source_id))

    async def metrics(self, tenant: str) -> dict[str, MetricDefinition]:
        """The built-in KPIs, overridden by the tenant's own definitions."""

        async def load() -> dict[str, MetricDefinition]:
            return {**BUILTIN_METRICS, **await self._repo.metrics_of(tenant)}

        return await self._metrics.get(tenant, load)

    def forget_source(self, source_id: str) -> None:
        self._sources.forget(source_id)

    def forget_metrics(self, tenant: str) -> None:
        self._metrics.forget(tenant)
