"""HTTP routes of kpi_ingest: admin of sources and metrics, webhooks, series reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response

from services.kpi_ingest.hot_path import deliver
from services.kpi_ingest.ingest import Ingest
from services.kpi_ingest.schemas import (
    LatestPublic,
    MetricCreate,
    MetricPublic,
    SeriesBucket,
    SeriesPublic,
    SourceCreate,
    SourceCreated,
    SourcePublic,
)
from services.kpi_ingest.series import Series
from services.kpi_ingest.service import Admin
from shared.audit import Actor
from shared.auth import AdminOrKeyPrincipal, CurrentPrincipal, api_key_resource
from shared.errors import InvalidInput
from shared.pagination import Page

# API keys: ``kpi:read`` reads sources, metrics and series, ``kpi:write`` manages sources and
# metrics (what an admin does); webhooks take their source's own credentials
router = APIRouter(prefix="/v1", dependencies=[api_key_resource("kpi")])
# the hot path, apart: it takes no principal, so no dependency to solve, and it is matched first
webhooks = APIRouter(prefix="/v1")
RESERVED_QUERY = frozenset({"from", "to", "bucket"})


def _admin(request: Request) -> Admin:
    admin: Admin = request.app.state.kpi_admin
    return admin


def _series(request: Request) -> Series:
    series: Series = request.app.state.kpi_series
    return series


# the body is read raw (its format is the source's); what else a delivery can answer
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Accepted, in the reply shape the sender's format expects",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    401: {"description": "Missing, invalid or expired signature"},
    429: {"description": "The source is over its rate limit"},
}


@webhooks.post(
    "/webhooks/{source_id}", tags=["webhooks"], status_code=202, responses=WEBHOOK_RESPONSES
)
async def receive_webhook(source_id: str, request: Request) -> Response:
    """Receive data points from an analytics tool: signed (Standard Webhooks, Segment's
    X-Signature) or, for a source created with bearer or basic auth, with its token."""
    arrived = datetime.now(UTC)  # the signature's age is judged here, not after any wait
    ingest: Ingest = request.app.state.kpi_ingest
    reply = await deliver(ingest, source_id, request.body, request.headers, arrived)
    return Response(orjson.dumps(reply.body), reply.status, media_type="application/json")


@router.post("/sources", tags=["sources"], status_code=201)
async def create_source(
    body: SourceCreate, principal: AdminOrKeyPrincipal, request: Request
) -> SourceCreated:
    """Register a webhook source; the answer holds its secret or token, shown only this once."""
    source, secret = await _admin(request).create_source(
        principal.tenant, body.name, body.format, body.mapping, body.auth, actor=Actor.of(principal)
    )
    return SourceCreated(**SourcePublic.of(source).model_dump(), secret=secret)


@router.get("/sources", tags=["sources"], response_model=Page[SourcePublic])
async def list_sources(principal: AdminOrKeyPrincipal, request: Request) -> Page[SourcePublic]:
    """The tenant's webhook sources (without secrets)."""
    sources = await _admin(request).sources(principal.tenant)
    return Page[SourcePublic](items=[SourcePublic.of(s) for s in sources])


@router.get("/sources/{source_id}", tags=["sources"])
async def get_source(
    source_id: str, principal: AdminOrKeyPrincipal, request: Request
) -> SourcePublic:
    """One webhook source (without its secret)."""
    return SourcePublic.of(await _admin(request).source(principal.tenant, source_id))


@router.post("/sources/{source_id}/rotate-secret", tags=["sources"])
async def rotate_secret(
    source_id: str, principal: AdminOrKeyPrincipal, request: Request
) -> SourceCreated:
    """A new signing secret; the previous one keeps verifying for the grace period."""
    source, secret = await _admin(request).rotate_secret(
        principal.tenant, source_id, actor=Actor.of(principal)
    )
    return SourceCreated(**SourcePublic.of(source).model_dump(), secret=secret)


@router.delete("/sources/{source_id}", tags=["sources"], status_code=204)
async def delete_source(
    source_id: str, principal: AdminOrKeyPrincipal, request: Request
) -> Response:
    """Remove a webhook source; its deliveries are refused from then on."""
    await _admin(request).delete_source(principal.tenant, source_id, actor=Actor.of(principal))
    return Response(status_code=204)


@router.post("/metrics", tags=["metrics"], status_code=201)
async def define_metric(
    body: MetricCreate, principal: AdminOrKeyPrincipal, request: Request
) -> MetricPublic:
    """Define a metric for the tenant (or redefine a built-in KPI once)."""
    metric = await _admin(request).define_metric(
        principal.tenant,
        key=body.key,
        name=body.name,
        unit=body.unit,
        kind=body.kind,
        thresholds=body.thresholds,
        expected_every_s=body.expected_every,
    )
    return MetricPublic.of(metric)


@router.get("/metrics", tags=["metrics"], response_model=Page[MetricPublic])
async def list_metrics(principal: CurrentPrincipal, request: Request) -> Page[MetricPublic]:
    """The built-in KPIs and the tenant's own metrics."""
    metrics = await _admin(request).metrics(principal.tenant)
    return Page[MetricPublic](items=[MetricPublic.of(m) for m in metrics])


@router.get("/metrics/{key}", tags=["metrics"])
async def get_metric(key: str, principal: CurrentPrincipal, request: Request) -> MetricPublic:
    """One metric definition."""
    return MetricPublic.of(await _admin(request).metric(principal.tenant, key))


def _dimensions(request: Request) -> dict[str, str]:
    dims = {k: v for k, v in request.query_params.items() if k not in RESERVED_QUERY}
    for name in dims:
        if name.startswith("$") or "." in name:
            raise InvalidInput(f"dimension name {name!r} may not start with $ or contain dots")
    return dims


@router.get("/metrics/{key}/series", tags=["series"])
async def series(
    key: str,
    principal: CurrentPrincipal,
    request: Request,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[
        datetime,
        Query(alias="to", description="After `from`, at most 2000 buckets from it."),
    ],
    bucket: Literal["hour", "day"] = "day",
) -> SeriesPublic:
    """Bucketed series (mean for gauges, sum for counters); other query params filter dimensions."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("from and to need a time zone (RFC 3339, e.g. 2026-11-01T00:00:00Z)")
    dims = _dimensions(request)
    aggregation, points = await _series(request).buckets(
        principal.tenant, key, start, end, bucket, dims
    )
    return SeriesPublic(
        metric=key,
        bucket=bucket,
        aggregation=aggregation,
        dimensions=dims,
        items=[SeriesBucket(start=p.start, value=p.value, count=p.count) for p in points],
    )


@router.get("/metrics/{key}/latest", tags=["series"])
async def latest(key: str, principal: CurrentPrincipal, request: Request) -> LatestPublic:
    """The most recent data point (query params filter dimensions)."""
    doc = await _series(request).latest(principal.tenant, key, _dimensions(request))
    return LatestPublic(
        metric=key,
        id=doc["_id"].split(":", 1)[1],
        value=doc["value"],
        timestamp=doc["ts"],
        dimensions=doc.get("dims") or {},
        source_id=doc["source_id"],
    )
