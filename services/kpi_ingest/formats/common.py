"""What the format adapters share: parse results, dotted paths and event mapping rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.kpi_ingest.domain import RawPoint
from shared.errors import InvalidInput


@dataclass(frozen=True)
class ParseContext:
    webhook_id: str
    received_at: datetime


@dataclass
class Parsed:
    """The points of one request, how many events no rule mapped, and the sender's reply."""

    points: list[RawPoint]
    ignored: int = 0
    reply: dict[str, Any] | None = None
    status: int = 202
    extra: dict[str, Any] = field(default_factory=dict)


def pick(obj: Any, path: str) -> Any:
    """The value at a dotted path (``properties.revenue``), or None."""
    current = obj
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        else:
            return None
    return current


def need_object(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidInput(f"a {what} payload must be a JSON object")
    return body


@dataclass(frozen=True)
class EventRule:
    """Maps matching analytics events to a metric: a counted event or a numeric property."""

    metric: str
    event: str | None = None
    type: str | None = None
    value: str = "count"
    dimensions: Mapping[str, str] = field(default_factory=dict)

    def matches(self, name: Any, kind: Any) -> bool:
        return (self.event is None or self.event == name) and (
            self.type is None or self.type == kind
        )


def event_rules(mapping: Mapping[str, Any]) -> list[EventRule]:
    """Rules from ``mapping["events"]``: [{"event", "type"?, "metric", "value"?, "dimensions"?}]."""
    raw = mapping.get("events", [])
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise InvalidInput("mapping.events must be a list of rules")
    rules = []
    for n, rule in enumerate(raw):
        if not isinstance(rule, Mapping) or not isinstance(rule.get("metric"), str):
            raise InvalidInput(f"mapping.events[{n}] needs a metric")
        if rule.get("event") is None and rule.get("type") is None:
            raise InvalidInput(f"mapping.events[{n}] needs an event name or a type to match")
        dims = rule.get("dimensions", {})
        if not isinstance(dims, Mapping) or not all(isinstance(v, str) for v in dims.values()):
            raise InvalidInput(f"mapping.events[{n}].dimensions must map names to paths")
        value = rule.get("value", "count")
        if not isinstance(value, str):
            raise InvalidInput(f"mapping.events[{n}].value must be 'count' or a property path")
        rules.append(
            EventRule(
                metric=rule["metric"],
                event=rule.get("event"),
                type=rule.get("type"),
                value=value,
                dimensions=dict(dims),
            )
        )
    return rules


def apply_rules(
    rules: Sequence[EventRule],
    event: Mapping[str, Any],
    *,
    ref: str,
    name: Any,
    kind: Any,
    event_id: Any,
    timestamp: Any,
) -> list[RawPoint]:
    """The points one event yields (one per matching rule)."""
    points = []
    for rule in rules:
        if not rule.matches(name, kind):
            continue
        value = 1 if rule.value == "count" else pick(event, rule.value)
        dims = {}
        for dim, path in rule.dimensions.items():
            found = pick(event, path)
            if found is not None:
                dims[dim] = found
        points.append(
            RawPoint(
                ref=ref,
                metric=rule.metric,
                value=value,
                timestamp=timestamp,
                dimensions=dims,
                source_event_id=event_id,
            )
        )
    return points


def metric_for(mapping: Mapping[str, Any], name: str) -> str:
    """A metric renamed by ``mapping["metrics"]`` (sender's name → metric key), else itself."""
    renames = mapping.get("metrics") or {}
    found = renames.get(name, name) if isinstance(renames, Mapping) else name
    return str(found)


def check_renames(mapping: Mapping[str, Any]) -> None:
    renames = mapping.get("metrics", {})
    if not isinstance(renames, Mapping) or not all(isinstance(v, str) for v in renames.values()):
        raise InvalidInput("mapping.metrics must map the sender's metric names to metric keys")
