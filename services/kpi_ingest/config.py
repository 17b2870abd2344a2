"""Settings of the kpi_ingest service (env prefix ``KPI_``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic_settings import SettingsConfigDict

from services.kpi_ingest.ingest import IngestLimits
from shared.config import CommonSettings


class KpiIngestSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="KPI_", extra="ignore", populate_by_name=True)

    service_name: str = "kpi_ingest"
    port: int = 8004
    mongodb_database: str = "northstar_kpi_ingest"
    # a 1,000-point generic batch is ~150 KB; leave room for verbose formats (OTLP, Segment)
    max_body_bytes: int = 2 * 1_048_576

    max_points_per_request: int = 1000
    # after a rotation the previous secret keeps verifying for this long
    secret_rotation_grace_s: int = 24 * 3600
    # per-source token bucket (requests): sustained rate and burst
    rate_limit_per_s: float = 50.0
    rate_limit_burst: int = 200
    # sources and metric definitions are cached in memory on the hot path
    cache_ttl_s: float = 5.0
    # a webhook waits this long for Kafka's acknowledgement before answering 503
    publish_timeout_s: float = 10.0
    # points further than this in the future are refused (clock skew allowance)
    max_future_skew_s: int = 24 * 3600

    # consumers_enabled (KPI_CONSUMERS_ENABLED, shared): the series projection and the signals
    # run in the same process by default; an ingest-only replica (scaled for webhooks) turns
    # them off
    stale_check_interval_s: float = 60.0

    def ingest_limits(self) -> IngestLimits:
        """What one webhook may send, and how long it waits for the broker."""
        return IngestLimits(
            max_points=self.max_points_per_request,
            rate_per_s=self.rate_limit_per_s,
            burst=self.rate_limit_burst,
            max_future_skew=timedelta(seconds=self.max_future_skew_s),
            publish_timeout_s=self.publish_timeout_s,
        )
