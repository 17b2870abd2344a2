"""Settings of the kpi_ingest service (env prefix ``KPI_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

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
    # per-source limit over all replicas (requests): sustained rate and burst (admission.py)
    rate_limit_per_s: float = 50.0
    rate_limit_burst: int = 200
    # a webhook waits at most this long for the store to grant the limit's next lease, then
    # passes on credit (precision traded for never stalling on a slow store)
    rate_limit_max_wait_s: float = 0.25
    # sources and metric definitions are cached in memory on the hot path
    cache_ttl_s: float = 5.0
    # a webhook waits this long for Kafka's acknowledgement before answering 503 (under the
    # 10 s timeout senders commonly use, so they hear the 503 instead of timing out)
    publish_timeout_s: float = 5.0
    # ... and this long for a source / metric lookup in the document store (then 503)
    lookup_timeout_s: float = 2.0
    # admission: past this many webhooks (or bytes of bodies) in progress in one process, a
    # webhook is answered 503 + Retry-After at once instead of queueing (services/kpi_ingest/
    # admission.py); 256 requests is about 0.25 s of work at this machine's single-point rate
    max_in_flight_requests: int = 256
    max_in_flight_bytes: int = 32 * 1_048_576
    # points further than this in the future are refused (clock skew allowance)
    max_future_skew_s: int = 24 * 3600

    # consumers_enabled (KPI_CONSUMERS_ENABLED, shared): the series projection and the signals
    # run in the same process by default; an ingest-only replica (scaled for webhooks) turns
    # them off
    stale_check_interval_s: float = 60.0
    # how often the retention job looks for data points past the tenant's setting
    retention_interval_s: float = 3600.0
    # off: this replica leaves the retention job to others (the lease lets one run anyway)
    retention_enabled: bool = True
