"""Sources and metric definitions, read through a short in-memory cache on the hot path."""

from __future__ import annotations

from services.kpi_ingest.domain import BUILTIN_METRICS, MetricDefinition, Source
from services.kpi_ingest.repository import KpiRepository
from shared.cache import TtlCache


class Catalog:
    """What the ingest path needs to know about sources and metrics, cached; a miss waits at
    most ``wait_s`` for the store (``TimeoutError``)."""

    def __init__(self, repo: KpiRepository, ttl: float, wait_s: float | None = None) -> None:
        self._repo = repo
        self._sources: TtlCache[str, Source | None] = TtlCache(ttl, wait_s=wait_s)
        self._metrics: TtlCache[str, dict[str, MetricDefinition]] = TtlCache(ttl, wait_s=wait_s)

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
