"""Events of the kpi-ingest service on ``northstar.kpi.datapoints.v1``.

Records of one series (tenant, metric and the exact dimensions) share a key, so a series keeps its
order while one metric's series spread over the partitions (see :func:`series_key`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from shared.events.envelope import EventPayload, event
from shared.events.topics import KPI_DATAPOINTS


def series_key(tenant: str, metric: str, dimensions: Mapping[str, str]) -> str:
    """The key of one series (remembered: a batch's points share a few series).

    ``tenant:metric:<20 hex of SHA-1 of the sorted "name=value" pairs joined by "&">``.

    The partition key of a data point and of its threshold signals, and the id of the series'
    threshold state. Hashed so the key stays short whatever the dimensions (16 of 200 characters
    are allowed); a point without dimensions hashes the empty string.
    """
    return _series_key(tenant, metric, tuple(sorted(dimensions.items())))


def _escape(text: str) -> str:
    # so {"a": "1&b=2"} and {"a": "1", "b": "2"} are two series; text without %, & or = keeps
    # the key it always had
    return text.replace("%", "%25").replace("&", "%26").replace("=", "%3D")


@functools.lru_cache(maxsize=65_536)
def _series_key(tenant: str, metric: str, dimensions: tuple[tuple[str, str], ...]) -> str:
    pairs = "&".join(f"{_escape(k)}={_escape(v)}" for k, v in dimensions)
    return f"{tenant}:{metric}:{hashlib.sha1(pairs.encode()).hexdigest()[:20]}"


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
