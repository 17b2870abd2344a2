"""Settings shared by every service (pydantic-settings, one env prefix per service).

Infrastructure settings (Kafka, the document store, auth) are read from unprefixed or
``NORTHSTAR_`` variables so one environment configures every service; a service's own
settings use its prefix (``GOALS_``, ``PEOPLE_``...).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Only ever valid in local mode: the model validator refuses it anywhere else.
LOCAL_JWT_SECRET = "northstar-local-development-secret-change-me"
# What services present to the people service to introspect API keys in local mode, when
# NORTHSTAR_API_KEYS_SECRET is not set (outside local mode, no secret: no API keys).
LOCAL_API_KEYS_SECRET = "northstar-local-api-keys-secret-change-me"


def _alias(name: str, *extra: str) -> AliasChoices:
    return AliasChoices(name, f"NORTHSTAR_{name}", *extra)


class CommonSettings(BaseSettings):
    """What every service reads; subclasses set ``env_prefix`` for their own fields."""

    model_config = SettingsConfigDict(
        env_prefix="NORTHSTAR_", extra="ignore", populate_by_name=True
    )

    service_name: str = "northstar"
    environment: Literal["local", "production"] = Field(
        "local", validation_alias=AliasChoices("NORTHSTAR_ENV", "environment")
    )
    log_level: str = Field(
        "INFO", validation_alias=AliasChoices("NORTHSTAR_LOG_LEVEL", "log_level")
    )
    host: str = "127.0.0.1"
    port: int = 8000

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        validation_alias=_alias("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
    )
    # A prefix on every topic name: lets tests (or two stacks) share one broker in isolation.
    topic_prefix: str = Field("", validation_alias=_alias("TOPIC_PREFIX", "topic_prefix"))
    topic_partitions: int = Field(
        3, validation_alias=_alias("TOPIC_PARTITIONS", "topic_partitions")
    )
    topic_replication: int = Field(
        1, validation_alias=_alias("TOPIC_REPLICATION", "topic_replication")
    )
    kafka_startup_timeout_s: float = 60.0

    mongodb_uri: str = Field(
        "mongodb://127.0.0.1:27017/", validation_alias=_alias("MONGODB_URI", "mongodb_uri")
    )
    mongodb_database: str = "northstar"
    # "auto": serialize writes per collection on a FerretDB whose updates are not atomic
    mongodb_serialize_writes: Literal["auto", "on", "off"] = Field(
        "auto", validation_alias=_alias("MONGODB_SERIALIZE_WRITES", "mongodb_serialize_writes")
    )

    jwt_secret: SecretStr = Field(
        SecretStr(LOCAL_JWT_SECRET), validation_alias=_alias("JWT_SECRET", "jwt_secret")
    )
    jwt_jwks_url: str | None = Field(None, validation_alias=_alias("JWT_JWKS_URL", "jwt_jwks_url"))
    jwt_issuer: str | None = Field(None, validation_alias=_alias("JWT_ISSUER", "jwt_issuer"))
    jwt_audience: str | None = Field(None, validation_alias=_alias("JWT_AUDIENCE", "jwt_audience"))
    jwt_jwks_lifespan_s: float = Field(
        300.0, gt=0, validation_alias=_alias("JWT_JWKS_LIFESPAN_S", "jwt_jwks_lifespan_s")
    )
    jwt_jwks_refresh_cooldown_s: float = Field(
        30.0,
        ge=0,
        validation_alias=_alias("JWT_JWKS_REFRESH_COOLDOWN_S", "jwt_jwks_refresh_cooldown_s"),
    )

    # API keys (docs/people.md#api-keys): a service checks an ``nsk_`` key by asking the people
    # service at this base URL, presenting the shared secret (at least 32 characters outside
    # local mode; unset there, API keys are refused with 503), and keeps each answer for the
    # TTL: a revoked key stops working within it
    api_keys_url: str = Field(
        "http://127.0.0.1:8001", validation_alias=_alias("API_KEYS_URL", "api_keys_url")
    )
    api_keys_secret: SecretStr | None = Field(
        None, validation_alias=_alias("API_KEYS_SECRET", "api_keys_secret")
    )
    api_keys_cache_ttl_s: float = Field(
        30.0, ge=0, validation_alias=_alias("API_KEYS_CACHE_TTL_S", "api_keys_cache_ttl_s")
    )
    api_keys_timeout_s: float = Field(
        3.0, gt=0, validation_alias=_alias("API_KEYS_TIMEOUT_S", "api_keys_timeout_s")
    )

    # OTLP/HTTP trace export, off unless set: the collector's base URL (spans go to
    # <url>/v1/traces), read from the standard OpenTelemetry variable
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_ENDPOINT", "NORTHSTAR_OTLP_ENDPOINT", "otlp_endpoint"
        ),
    )
    otlp_timeout_s: float = Field(
        10.0, gt=0, validation_alias=_alias("OTLP_TIMEOUT_S", "otlp_timeout_s")
    )

    max_body_bytes: int = 1_048_576
    outbox_poll_interval_s: float = 0.5
    # how long the relay leaves a hot writer's held events to it (shared/messaging/outbox.py):
    # the longest a crash between a save and its publish delays them
    outbox_hold_s: float = 30.0
    # False: this replica runs no Kafka consumers (e.g. an HTTP-only replica scaled for
    # traffic while another runs the projections); env ``<PREFIX>_CONSUMERS_ENABLED``
    consumers_enabled: bool = True
    # consecutive records of a type with a batch handler handled at once (shared/messaging/
    # consumer.py); 1 handles every record alone; env ``<PREFIX>_CONSUMER_MAX_BATCH``
    consumer_max_batch: int = Field(100, ge=1, le=1000)
    # a consumer's fetch waits for this many bytes, or this long (shared/messaging/consumer.py):
    # batching fetches halved 202 -> goal progress at 200 points/s, and the wait bounds what a
    # record waits at a low rate (docs/bench-load.md); env ``<PREFIX>_CONSUMER_FETCH_MIN_BYTES``,
    # ``<PREFIX>_CONSUMER_FETCH_MAX_WAIT_MS``
    consumer_fetch_min_bytes: int = Field(32_768, ge=1)
    consumer_fetch_max_wait_ms: int = Field(50, ge=1, le=500)

    @field_validator("api_keys_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # compose passes an unset variable as an empty string
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_local_secret_outside_local(self) -> CommonSettings:
        if self.environment != "local" and self.jwt_jwks_url is None:
            if self.jwt_secret.get_secret_value() == LOCAL_JWT_SECRET:
                raise ValueError(
                    "NORTHSTAR_JWT_SECRET is the local development secret; set a real secret "
                    "or NORTHSTAR_JWT_JWKS_URL outside local mode"
                )
            if len(self.jwt_secret.get_secret_value()) < 32:
                raise ValueError("NORTHSTAR_JWT_SECRET must be at least 32 characters")
        secret = self.api_keys_secret
        if self.environment != "local" and secret and len(secret.get_secret_value()) < 32:
            raise ValueError("NORTHSTAR_API_KEYS_SECRET must be at least 32 characters")
        return self

    def api_keys_shared_secret(self) -> str | None:
        """The secret of API key introspection (local mode has a default), or None."""
        if self.api_keys_secret is not None:
            return self.api_keys_secret.get_secret_value()
        return LOCAL_API_KEYS_SECRET if self.environment == "local" else None

    def topic(self, name: str) -> str:
        """The broker-side name of a logical topic."""
        return f"{self.topic_prefix}{name}"
