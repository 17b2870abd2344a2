"""Settings of the people service (env prefix ``PEOPLE_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import CommonSettings


class PeopleSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="PEOPLE_", extra="ignore", populate_by_name=True)

    service_name: str = "people"
    port: int = 8001
    mongodb_database: str = "northstar_people"

    # The largest page a SCIM list answers (ServiceProviderConfig filter.maxResults); also the
    # page size when a client sends no ``count``.
    scim_max_results: int = Field(500, ge=1, le=5000)
    # A sync that would deactivate more than this share of the active people is refused
    # unless the caller passes force=true.
    import_max_deactivation_share: float = Field(0.2, ge=0.0, le=1.0)
    import_max_rows: int = Field(20_000, ge=1)

    # the audit read model: its consumer group, and the retention purge (one replica at a
    # time, under a lease) that deletes records older than each tenant's retention
    audit_consumer_group: str = "people-audit"
    audit_purge_enabled: bool = True
    audit_purge_interval_s: float = Field(300.0, gt=0)
    audit_purge_lease_ttl_s: float = Field(600.0, gt=0)
    # the HR reports' read model (docs/people.md#reports): its consumer group; an active goal
    # without a check-in, KPI movement or activation for this many days counts as "no recent
    # update"; a skill average from fewer answers than this is suppressed (never below 3, the
    # feedback service's anonymity minimum); the period when a report names none
    reports_consumer_group: str = "people-reports"
    reports_stale_after_days: int = Field(30, ge=1, le=365)
    reports_min_answers: int = Field(3, ge=3)
    reports_default_period_days: int = Field(30, ge=1, le=366)
    # The services that erase a person on ``person.erased`` and report it: an erasure is done
    # once each of them has (GET /v1/people/{id}/erasure).
    erasure_services: list[str] = ["feedback", "goals", "notifications", "reviews", "web"]
    # Base URLs of the services whose ``GET /v1/people/{id}/data`` makes up a data export
    # (PEOPLE_SERVICE_URLS as JSON).
    service_urls: dict[str, str] = {
        "goals": "http://127.0.0.1:8002",
        "feedback": "http://127.0.0.1:8003",
        "notifications": "http://127.0.0.1:8005",
        "reviews": "http://127.0.0.1:8006",
        "web": "http://127.0.0.1:8000",
    }
    export_timeout_s: float = Field(10.0, gt=0)
    # API keys (docs/people.md#api-keys): the expiry of a key issued without one, the latest
    # expiry one may ask for, and how often a key's last use is written at most
    api_key_default_ttl_days: int = Field(90, ge=1)
    api_key_max_ttl_days: int = Field(365, ge=1)
    api_key_last_used_interval_s: float = Field(60.0, ge=0)
