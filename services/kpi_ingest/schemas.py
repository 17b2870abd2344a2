"""Request and response models of the kpi_ingest API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from services.kpi_ingest.credentials import SourceAuth
from services.kpi_ingest.domain import MetricDefinition, Source, SourceFormat
from shared.schemas import JsonObject


class SourceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    format: SourceFormat
    # stored as JSON text (sender metric names such as OTLP's hold dots): keys are free
    mapping: JsonObject = Field(default_factory=dict)
    auth: SourceAuth = Field(
        "signature",
        description="signature: Standard Webhooks (or Segment's X-Signature) with a whsec_ "
        "secret; bearer or basic: an Authorization header with a token, for senders that "
        "cannot sign (an OpenTelemetry collector, Amplitude, Mixpanel)",
    )


class SourcePublic(BaseModel):
    id: str
    name: str
    format: SourceFormat
    auth: SourceAuth
    mapping: dict[str, Any]
    webhook_path: str
    created_at: datetime
    # while a rotation's grace period runs, the previous secret verifies until then
    previous_secret_valid_until: datetime | None = None

    @classmethod
    def of(cls, source: Source) -> SourcePublic:
        expiring = [s.expires_at for s in source.secrets if s.expires_at is not None]
        return cls(
            id=source.id,
            name=source.name,
            format=source.format,
            auth=source.auth,
            mapping=dict(source.mapping),
            webhook_path=f"/v1/webhooks/{source.id}",
            created_at=source.created_at,
            previous_secret_valid_until=max(expiring) if expiring else None,
        )


class SourceCreated(SourcePublic):
    """The one response that shows the signing secret or token; it is never shown again."""

    secret: str = Field(
        description="signature sources: the whsec_ signing secret; bearer and basic sources: "
        "the token (basic: the password, with any user name)"
    )


class MetricCreate(BaseModel):
    # the service's METRIC_KEY rule, in the schema
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(default="", max_length=50)
    kind: Literal["gauge", "counter"]
    # strict: false is not a threshold
    thresholds: list[Annotated[float, Field(strict=True)]] = Field(
        default_factory=list, max_length=20
    )
    expected_every: int | None = Field(
        default=None, gt=0, description="seconds; a quieter metric is signalled stale"
    )


class MetricPublic(BaseModel):
    key: str
    name: str
    unit: str
    kind: Literal["gauge", "counter"]
    thresholds: list[float]
    expected_every: int | None
    builtin: bool

    @classmethod
    def of(cls, metric: MetricDefinition) -> MetricPublic:
        return cls(
            key=metric.key,
            name=metric.name,
            unit=metric.unit,
            kind=metric.kind,
            thresholds=list(metric.thresholds),
            expected_every=metric.expected_every_s,
            builtin=metric.builtin,
        )


class SeriesBucket(BaseModel):
    start: datetime
    value: float
    count: int


class SeriesPublic(BaseModel):
    metric: str
    bucket: Literal["hour", "day"]
    aggregation: Literal["mean", "sum"]
    dimensions: dict[str, str]
    items: list[SeriesBucket]


class LatestPublic(BaseModel):
    metric: str
    id: str
    value: float
    timestamp: datetime
    dimensions: dict[str, str]
    source_id: str
