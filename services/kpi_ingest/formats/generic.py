"""``generic``: ``{"datapoints": [{"id"?, "metric", "value", "timestamp", "dimensions"?}]}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.kpi_ingest.domain import RawPoint
from services.kpi_ingest.formats.common import ParseContext, Parsed, check_renames, metric_for
from shared.errors import InvalidInput


def check_mapping(mapping: Mapping[str, Any]) -> None:
    check_renames(mapping)


def parse(body: Any, mapping: Mapping[str, Any], context: ParseContext) -> Parsed:
    points = body.get("datapoints") if isinstance(body, Mapping) else None
    if not isinstance(points, list):
        raise InvalidInput('a generic payload is {"datapoints": [...]}')
    renames = bool(mapping.get("metrics"))
    out = []
    for n, point in enumerate(points):
        ref = f"datapoints[{n}]"
        if not isinstance(point, dict):
            out.append(RawPoint(ref=ref, metric=None, value=None, timestamp=None))
            continue
        metric = point.get("metric")
        if renames and isinstance(metric, str):
            metric = metric_for(mapping, metric)
        out.append(
            RawPoint(
                ref=ref if point.get("id") is None else f"{ref} (id {point.get('id')})",
                metric=metric,
                value=point.get("value"),
                timestamp=point.get("timestamp"),
                dimensions=point.get("dimensions"),
                source_event_id=point.get("id"),
            )
        )
    return Parsed(points=out)
