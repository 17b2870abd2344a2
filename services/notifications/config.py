"""Settings of the notifications service (env prefix ``NOTIFICATIONS_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.config import CommonSettings

# immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
DEFAULT_RETRY_SCHEDULE_S = [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0]


class NotificationsSettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="NOTIFICATIONS_", extra="ignore", populate_by_name=True
    )

    service_name: str = "notifications"
    port: int = 8005
    mongodb_database: str = "northstar_notifications"

    # email
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_use_tls: bool = False  # implicit TLS (port 465 style)
    smtp_start_tls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = 10.0
    mail_from: str = "Northstar <notifications@northstar.local>"
    app_url: str = "http://127.0.0.1:8000"  # the web app: emails link to its pages

    # outbound HTTP (Slack and webhooks)
    http_timeout_s: float = 10.0
    # hosts, host:port pairs or CIDRs that may be reached although private (local use, tests)
    outbound_allow_list: list[str] = Field(default_factory=list)
    retry_schedule_s: list[float] = Field(default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE_S))
    max_retry_after_s: float = 36000.0

    # governance
    daily_cap: int = 20  # immediate email + Slack sends per person per local day
    default_time_zone: str = "UTC"

    # the delivery worker
    worker_poll_interval_s: float = 1.0
    worker_batch: int = 50
    claim_lease_s: float = 60.0
    digest_check_interval_s: float = 30.0
    sse_poll_interval_s: float = 2.0
    sse_keepalive_s: float = 15.0
    # an inbox stream ends after this and its client reconnects with Last-Event-ID: a replica's
    # connections spread over the replicas there are now, and the token is checked again
    sse_stream_lifetime_s: float = 900.0
    # how often the retention job looks for inbox items and deliveries past the tenant's setting
    retention_interval_s: float = 3600.0
    # off: this replica leaves the retention job to others (the lease lets one run anyway)
    retention_enabled: bool = True
