"""The kpi_ingest service: Signed KPI webhooks from product analytics, series and signals."""

from __future__ import annotations

from fastapi import FastAPI

from services.kpi_ingest.config import KpiIngestSettings
from shared.app import create_service_app


def create_app(settings: KpiIngestSettings | None = None) -> FastAPI:
    settings = settings or KpiIngestSettings()
    return create_service_app(
        name="kpi_ingest",
        settings=settings,
        description="Signed KPI webhooks from product analytics, series and signals.",
    )
