"""The kpi_ingest service: Signed KPI webhooks from product analytics, series and signals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from services.kpi_ingest.admission import SharedRateLimit
from services.kpi_ingest.api import router
from services.kpi_ingest.catalog import Catalog
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.deliveries import DeliveryLog
from services.kpi_ingest.handlers import build_router
from services.kpi_ingest.ingest import Ingest, IngestLimits
from services.kpi_ingest.publishing import KafkaPoints
from services.kpi_ingest.repository import INDEXES, KpiRepository, prune_horizon
from services.kpi_ingest.series import Series, StaleChecker
from services.kpi_ingest.service import Admin
from shared.app import Runtime, create_service_app
from shared.events import topics
from shared.messaging import ConsumerRunner, OutboxRelay, ensure_topics
from shared.mongo import ensure_indexes


def create_app(settings: KpiIngestSettings | None = None) -> FastAPI:
    settings = settings or KpiIngestSettings()

    @asynccontextmanager
    async def wiring(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        await ensure_indexes(runtime.db, INDEXES)
        await ensure_topics(settings, [topics.KPI_DATAPOINTS])
        repo = KpiRepository(runtime.db)
        catalog = Catalog(repo, settings.cache_ttl_s)
        series = Series(repo, catalog)
        app.state.kpi_admin = Admin(
            repo, catalog, timedelta(seconds=settings.secret_rotation_grace_s)
        )
        app.state.kpi_series = series
        deliveries = DeliveryLog(repo.delivery_journal, repo.replicas)
        await deliveries.start(prune_horizon(datetime.now(UTC)))
        app.state.kpi_ingest = Ingest(
            service=settings.service_name,
            deliveries=deliveries,
            catalog=catalog,
            publisher=KafkaPoints.of(runtime.producer, settings),
            rate_limit=SharedRateLimit(
                repo.rate_leases,
                settings.rate_limit_per_s,
                settings.rate_limit_burst,
                max_wait_s=settings.rate_limit_max_wait_s,
            ),
            limits=IngestLimits.of(settings),
        )
        async with AsyncExitStack() as stack:
            stack.push_async_callback(deliveries.stop)
            if settings.consumers_enabled:
                relays = [
                    OutboxRelay(
                        repo.series_state,
                        runtime.producer,
                        service=settings.service_name,
                        poll_interval_s=settings.outbox_poll_interval_s,
                    ),
                    OutboxRelay(
                        repo.activity,
                        runtime.producer,
                        service=settings.service_name,
                        poll_interval_s=settings.outbox_poll_interval_s,
                    ),
                ]
                for relay in relays:
                    await relay.start()
                    stack.push_async_callback(relay.stop)
                checker = StaleChecker(series, repo, settings.stale_check_interval_s)
                checker.on_signal = relays[1].notify
                await checker.start()
                stack.push_async_callback(checker.stop)
                runner = ConsumerRunner(
                    settings,
                    group="kpi-series",
                    router=build_router(series, relays[0].notify),
                    producer=runtime.producer,
                )
                await runner.start()
                stack.push_async_callback(runner.stop)
                app.state.kpi_relays = relays
                app.state.kpi_stale_checker = checker
            yield

    return create_service_app(
        name="kpi_ingest",
        settings=settings,
        routers=[router],
        wiring=wiring,
        description="Signed KPI webhooks from product analytics, series and signals.",
    )
