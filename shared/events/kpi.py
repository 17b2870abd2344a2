"""Events of the kpi-ingest service on ``northstar.kpi.datapoints.v1`` (key = tenant + metric)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.events.envelope import EventPayload, event
from shared.events.topics import KPI_DATAPOINTS


@event("northstar.kpi.datapoint.recorded.v1", KPI_DATAPOINTS)
class KpiDatapointRecorded(EventPayload):
    """One accepted data point; ``id`` is derived from source, source event id and metric."""

    id: str
    tenant: str
    metric: str
    value: float
    timestamp: datetime
    dimensions: dict[str, str] = {}
    source_id: str
    source_event_id: str


@event("northstar.kpi.threshold.crossed.v1", KPI_DATAPOINTS)
class KpiThresholdCrossed(EventPayload):
    tenant: str
    metric: str
    threshold: float
    direction: Literal["up", "down"]
    value: float
    datapoint_id: str
    timestamp: datetime
    dimensions: dict[str, str] = {}


@event("northstar.kpi.stale.v1", KPI_DATAPOINTS)
class KpiStale(EventPayload):
    tenant: str
    metric: str
    expected_every_s: int
    last_seen: datetime | None = None
