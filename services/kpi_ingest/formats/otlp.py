"""``otlp``: OTLP/HTTP JSON metrics (``resourceMetrics``); gauge and sum data points.

A sum should be sent with delta temporality for counter metrics (the collector's
``cumulativetodelta`` processor does it). Other metric types are counted as ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.kpi_ingest.domain import RawPoint
from services.kpi_ingest.formats.common import (
    ParseContext,
    Parsed,
    check_renames,
    metric_for,
    need_object,
)
from shared.errors import InvalidInput


def check_mapping(mapping: Mapping[str, Any]) -> None:
    check_renames(mapping)


def _attribute(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return None
    for kind in ("stringValue", "boolValue", "intValue", "doubleValue"):
        if kind in value:
            return value[kind]
    return None


def _attributes(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, list):
        return {}
    return {
        a["key"]: _attribute(a.get("value"))
        for a in raw
        if isinstance(a, Mapping) and isinstance(a.get("key"), str)
    }


def _value(point: Mapping[str, Any]) -> Any:
    if "asDouble" in point:
        return point["asDouble"]
    return point.get("asInt")  # int64 travels as a JSON string


def _timestamp(point: Mapping[str, Any]) -> Any:
    nanos = point.get("timeUnixNano")
    try:
        return int(nanos) / 1e9 if nanos is not None else None
    except (TypeError, ValueError):
        return nanos


def parse(body: Any, mapping: Mapping[str, Any], context: ParseContext) -> Parsed:
    payload = need_object(body, "OTLP")
    resources = payload.get("resourceMetrics")
    if not isinstance(resources, list):
        raise InvalidInput('an OTLP/HTTP JSON metrics payload has "resourceMetrics"')
    points: list[RawPoint] = []
    ignored = 0
    for r, resource in enumerate(resources):
        for s, scope in enumerate((resource or {}).get("scopeMetrics") or []):
            for m, metric in enumerate((scope or {}).get("metrics") or []):
                if not isinstance(metric, Mapping):
                    continue
                data = metric.get("gauge") or metric.get("sum")
                if not isinstance(data, Mapping):
                    ignored += 1
                    continue
                name = str(metric.get("name"))
                key = metric_for(mapping, name)
                for p, point in enumerate(data.get("dataPoints") or []):
                    ref = f"resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}] {name} point {p}"
                    if not isinstance(point, Mapping):
                        points.append(RawPoint(ref=ref, metric=key, value=None, timestamp=None))
                        continue
                    points.append(
                        RawPoint(
                            ref=ref,
                            metric=key,
                            value=_value(point),
                            timestamp=_timestamp(point),
                            dimensions=_attributes(point.get("attributes")),
                        )
                    )
    return Parsed(points=points, ignored=ignored, reply={}, status=200)
