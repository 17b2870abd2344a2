"""Settings of the reviews service (env prefix ``REVIEWS_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import CommonSettings


class ReviewsSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEWS_", extra="ignore", populate_by_name=True)

    service_name: str = "reviews"
    port: int = 8006
    mongodb_database: str = "northstar_reviews"

    consumer_group: str = "reviews"
    # the reminder scheduler: how often it looks, and the lease that keeps one replica at it
    scheduler_enabled: bool = True
    scheduler_interval_s: float = 300.0
    scheduler_lease_ttl_s: float = 600.0
    # a step is reminded this many days before its deadline (once, and only while not done)
    reminder_lead_days: int = 3
    # the tenant's overall rating scale: 1..rating_scale
    rating_scale: int = 5
    # peers are asked anonymously when at least this many are approved (feedback's own floor)
    anonymous_peer_minimum: int = 3
    max_peers: int = 10
    max_population: int = 5000
