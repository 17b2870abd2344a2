"""Settings of the kpi_ingest service (env prefix ``KPI_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import CommonSettings


class KpiIngestSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="KPI_", extra="ignore", populate_by_name=True)

    service_name: str = "kpi_ingest"
    port: int = 8004
    mongodb_database: str = "northstar_kpi_ingest"
