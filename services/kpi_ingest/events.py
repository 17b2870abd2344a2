"""The events kpi-ingest publishes, built from domain values."""

from __future__ import annotations

from datetime import datetime

from services.kpi_ingest.domain import DataPoint
from shared.events import Envelope, deterministic_id, new_event
from shared.events.codec import datapoint_data
from shared.events.kpi import KpiDatapointRecorded, KpiStale, KpiThresholdCrossed, series_key

SOURCE = "northstar/kpi-ingest"
RECORDED = KpiDatapointRecorded.event_type


def datapoint_recorded(point: DataPoint, now: datetime, traceparent: str | None = None) -> Envelope:
    """``kpi.datapoint.recorded`` whose event id is the point's id, so a resend is the same event.

    The subject is the metric; the partition key is the point's series (shared.events.kpi).
    Ingest publishes through ``datapoint_records``, which writes the same records without
    this object (a unit test pins the two together).
    """
    return Envelope(
        id=point.id,
        type=RECORDED,
        source=SOURCE,
        subject=f"{point.tenant}:{point.metric}",
        tenant=point.tenant,
        data=datapoint_data(point),
        time=now,
        partitionkey=series_key(point.tenant, point.metric, point.dimensions),
        traceparent=traceparent,
    )


def threshold_crossed(point: DataPoint, threshold: float, direction: str) -> Envelope:
    payload = KpiThresholdCrossed(
        tenant=point.tenant,
        metric=point.metric,
        threshold=threshold,
        direction=direction,
        value=point.value,
        datapoint_id=point.id,
        timestamp=point.timestamp,
        dimensions=point.dimensions,
    )
    return new_event(
        payload,
        tenant=point.tenant,
        subject=f"{point.tenant}:{point.metric}",
        partitionkey=series_key(point.tenant, point.metric, point.dimensions),
        source=SOURCE,
        id=deterministic_id("kpi.threshold.crossed", point.id, repr(threshold), direction),
    )


def stale(
    tenant: str, metric: str, expected_every_s: int, last_seen: datetime | None, marker: datetime
) -> Envelope:
    key = f"{tenant}:{metric}"
    return new_event(
        KpiStale(
            tenant=tenant, metric=metric, expected_every_s=expected_every_s, last_seen=last_seen
        ),
        tenant=tenant,
        subject=key,
        partitionkey=key,
        source=SOURCE,
        id=deterministic_id("kpi.stale", tenant, metric, marker.isoformat()),
    )
