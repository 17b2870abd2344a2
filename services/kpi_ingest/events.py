"""The events kpi-ingest publishes, built from domain values."""

from __future__ import annotations

from datetime import datetime

from services.kpi_ingest.domain import DataPoint
from shared.events import Envelope, deterministic_id, new_event
from shared.events.kpi import KpiDatapointRecorded, KpiStale, KpiThresholdCrossed

SOURCE = "northstar/kpi-ingest"
RECORDED = KpiDatapointRecorded.event_type


def rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def datapoint_recorded(point: DataPoint, now: datetime) -> Envelope:
    """``kpi.datapoint.recorded`` whose event id is the point's id, so a resend is the same event.

    Built without a pydantic round trip (this is the ingest hot path); a unit test checks the
    data against the KpiDatapointRecorded contract.
    """
    key = f"{point.tenant}:{point.metric}"
    return Envelope(
        id=point.id,
        type=RECORDED,
        source=SOURCE,
        subject=key,
        tenant=point.tenant,
        data={
            "id": point.id,
            "tenant": point.tenant,
            "metric": point.metric,
            "value": point.value,
            "timestamp": rfc3339(point.timestamp),
            "dimensions": point.dimensions,
            "source_id": point.source_id,
            "source_event_id": point.source_event_id,
        },
        time=now,
        partitionkey=key,
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
    key = f"{point.tenant}:{point.metric}"
    return new_event(
        payload,
        tenant=point.tenant,
        subject=key,
        partitionkey=key,
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
