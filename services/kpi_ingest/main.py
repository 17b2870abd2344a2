"""The kpi_ingest service: Signed KPI webhooks from product analytics, series and signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from starlette.middleware import Middleware

from services.kpi_ingest.api import router, webhooks
from services.kpi_ingest.catalog import Catalog
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.deliveries import DeliveryLog
from services.kpi_ingest.handlers import build_router
from services.kpi_ingest.hot_path import WebhookEndpoint
from services.kpi_ingest.ingest import Ingest
from services.kpi_ingest.publishing import KafkaPoints
from services.kpi_ingest.repository import DATAPOINTS, INDEXES, KpiRepository, prune_horizon
from services.kpi_ingest.series import Series, StaleChecker
from services.kpi_ingest.service import Admin
from shared.app import Lifecycle, create_service_app
from shared.audit import AuditTrail
from shared.events import topics
from shared.retention import (
    Purge,
    RetentionJob,
    RetentionSettings,
    age_index,
    retention_router,
    with_indexes,
)
from shared.time import utcnow


def create_app(settings: KpiIngestSettings | None = None) -> FastAPI:
    settings = settings or KpiIngestSettings()

    async def wiring(service: Lifecycle) -> None:
        repo = KpiRepository(service.db)
        catalog = Catalog(repo, settings.cache_ttl_s, settings.lookup_timeout_s)
        series = Series(repo, catalog)
        horizon = prune_horizon(datetime.now(UTC))
        deliveries = await DeliveryLog.opened(repo.delivery_journal, repo.replicas, horizon)
        service.on_stop(deliveries.stop)
        publisher = KafkaPoints.of(service.producer, settings)
        ingest = Ingest.of(settings, deliveries, catalog, publisher, repo.rate_leases)
        grace = timedelta(seconds=settings.secret_rotation_grace_s)
        # an ingest-only replica leaves series, signals and relaying (audit records written
        # here included: they wait in their source's outbox) to the others
        relaying = settings.consumers_enabled
        trail = AuditTrail(service.db)
        notify = service.relay(repo, trail).notify if relaying else lambda: None
        admin = Admin(repo, catalog, grace, trail=trail, notify=notify)
        service.provide(
            kpi_admin=admin,
            kpi_series=series,
            kpi_ingest=ingest,
            retention=RetentionSettings(service.db),
        )
        # the series' data points age out under the tenant's retention (by their own time)
        if settings.retention_enabled:
            service.run(
                RetentionJob(
                    service.db,
                    [Purge(DATAPOINTS, service.db[DATAPOINTS], "ts")],
                    service="kpi_ingest",
                    clock=utcnow,
                    interval_s=settings.retention_interval_s,
                )
            )
        if relaying:
            service.run(StaleChecker(series, repo, settings.stale_check_interval_s, notify=notify))
            service.consume(build_router(series, notify), group="kpi-series")

    return create_service_app(
        name="kpi_ingest",
        settings=settings,
        routers=[webhooks, router, retention_router(["KPI data points"])],
        indexes=with_indexes({**INDEXES, **AuditTrail.indexes()}, {DATAPOINTS: [age_index("ts")]}),
        topics=[topics.KPI_DATAPOINTS, topics.AUDIT],
        wiring=wiring,
        description="Signed KPI webhooks from product analytics, series and signals.",
        # the webhooks router holds the one webhook route; the hot path serves it
        middleware=[Middleware(WebhookEndpoint, route=webhooks.routes[0])],
    )
