"""Metric definitions, sources, data points and the rules on them; no I/O."""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from services.kpi_ingest.credentials import SourceAuth
from shared.errors import InvalidInput

MetricKind = Literal["gauge", "counter"]
# The registry is ``formats.FORMATS`` (its adapters import this module); pydantic needs the
# literal here, and a unit test holds the two equal.
SourceFormat = Literal["generic", "segment", "amplitude", "mixpanel", "posthog", "otlp"]

MAX_DIMENSIONS = 16
MAX_DIMENSION_LENGTH = 200
MAX_ERRORS_REPORTED = 50


@dataclass(frozen=True)
class MetricDefinition:
    """What a metric key means for a tenant: unit, kind, thresholds, expected cadence."""

    key: str
    name: str
    unit: str
    kind: MetricKind
    thresholds: tuple[float, ...] = ()
    expected_every_s: int | None = None
    builtin: bool = False
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)


def _builtin(key: str, name: str, unit: str, kind: MetricKind) -> MetricDefinition:
    return MetricDefinition(key=key, name=name, unit=unit, kind=kind, builtin=True)


# The KPIs of the product-manager career guide, ready for every tenant (a tenant may redefine one).
BUILTIN_METRICS: dict[str, MetricDefinition] = {
    m.key: m
    for m in (
        _builtin("adoption_rate", "Product adoption rate", "percent", "gauge"),
        _builtin("active_users", "Active users", "users", "gauge"),
        _builtin("csat", "Customer satisfaction (CSAT)", "score", "gauge"),
        _builtin("nps", "Net promoter score", "score", "gauge"),
        _builtin("retention_rate", "Customer retention rate", "percent", "gauge"),
        _builtin("churn_rate", "Customer churn rate", "percent", "gauge"),
        _builtin("revenue", "Product revenue", "currency", "counter"),
        _builtin("profit_margin", "Profit margin", "percent", "gauge"),
        _builtin("launches", "Successful product launches", "launches", "counter"),
        _builtin("collaboration_score", "Cross-functional collaboration", "score", "gauge"),
    )
}


@dataclass(frozen=True)
class SourceSecret:
    """A signing secret (``signature`` sources) or a token's SHA-256 digest (``bearer``,
    ``basic``: the token itself is shown once and never stored)."""

    value: str
    created_at: datetime
    expires_at: datetime | None = None

    def valid_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class Source:
    """A webhook sender of one tenant, with its payload format and mapping rules."""

    id: str
    tenant: str
    name: str
    format: SourceFormat
    mapping: Mapping[str, Any]
    secrets: tuple[SourceSecret, ...]
    created_at: datetime
    # how deliveries authenticate: a signature, or a token for senders that cannot sign
    auth: SourceAuth = "signature"

    def secrets_valid_at(self, now: datetime) -> list[str]:
        return [s.value for s in self.secrets if s.valid_at(now)]

    def rotate(self, secret: str, now: datetime, grace: timedelta) -> Source:
        """The new secret verifies from now; the current ones keep verifying for ``grace``."""
        kept = tuple(
            replace(s, expires_at=min(s.expires_at or now + grace, now + grace))
            for s in self.secrets
            if s.valid_at(now)
        )
        return replace(self, secrets=(SourceSecret(secret, now), *kept))


@dataclass(slots=True)
class RawPoint:
    """A data point as a format adapter read it, before validation."""

    ref: str
    metric: Any
    value: Any
    timestamp: Any
    dimensions: Any = field(default_factory=dict)
    source_event_id: Any = None


@dataclass(slots=True)
class DataPoint:
    id: str
    tenant: str
    metric: str
    value: float
    timestamp: datetime
    dimensions: dict[str, str]
    source_id: str
    source_event_id: str


_ID_NAMESPACE = uuid.NAMESPACE_URL.bytes + b"northstar:"


class PointIds:
    """``shared.events.deterministic_id(source_id, event_id, metric)`` without the uuid module's
    per-call overhead (this runs once per ingested point); a unit test pins the equality."""

    __slots__ = ("_prefix",)

    def __init__(self, source_id: str) -> None:
        self._prefix = hashlib.sha1(_ID_NAMESPACE + source_id.encode() + b"\x1f")

    def __call__(self, event_id: str, metric: str) -> str:
        digest = self._prefix.copy()
        digest.update(f"{event_id}\x1f{metric}".encode())
        raw = bytearray(digest.digest()[:16])
        raw[6] = (raw[6] & 0x0F) | 0x50
        raw[8] = (raw[8] & 0x3F) | 0x80
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def parse_timestamp(value: Any, *, default: datetime | None = None) -> datetime:
    """RFC 3339 / ISO 8601 text or epoch seconds (milliseconds when large); naive means UTC."""
    if type(value) is str and len(value) > 18 and value[4] == "-":  # the common case, fast
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    if value is None or value == "":
        if default is None:
            raise ValueError("timestamp is required")
        return default
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError("timestamp must be RFC 3339 text or epoch seconds")
    if isinstance(value, int | float):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds since the epoch
            seconds /= 1000.0
        if not math.isfinite(seconds):
            raise ValueError("timestamp is not finite")
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return parse_timestamp(float(text))
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    raise ValueError("timestamp must be RFC 3339 text or epoch seconds")


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError("value must be a number")
    if isinstance(value, str):
        value = value.strip()
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("value must be a finite number")
    return number


def _plain_dimensions(value: Any) -> bool:
    """Strings only, short, safe names: the common case, checked without building a copy."""
    if type(value) is not dict or len(value) > MAX_DIMENSIONS:
        return False
    for key, raw in value.items():
        if (
            type(raw) is not str
            or type(key) is not str
            or not key
            or len(key) > MAX_DIMENSION_LENGTH
            or len(raw) > MAX_DIMENSION_LENGTH
            or key[0] == "$"
            or "." in key
        ):
            return False
    return True


def _dimensions(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if _plain_dimensions(value):
        return value  # type: ignore[no-any-return]
    if not isinstance(value, Mapping):
        raise ValueError("dimensions must be an object of strings")
    if len(value) > MAX_DIMENSIONS:
        raise ValueError(f"at most {MAX_DIMENSIONS} dimensions are allowed")
    out: dict[str, str] = {}
    for key, raw in value.items():
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        elif isinstance(raw, str | int | float):
            text = str(raw)
        else:
            raise ValueError(f"dimension {key!r} must be a string, number or boolean")
        if not key or len(key) > MAX_DIMENSION_LENGTH or len(text) > MAX_DIMENSION_LENGTH:
            raise ValueError(f"dimension {key!r} is empty or longer than {MAX_DIMENSION_LENGTH}")
        if key.startswith("$") or "." in key:
            raise ValueError(f"dimension name {key!r} may not start with $ or contain dots")
        out[str(key)] = text
    return out


def content_event_id(metric: str, timestamp: datetime, dimensions: Mapping[str, str]) -> str:
    """The identity of a point that carries no id: same metric, time and dimensions."""
    dims = "&".join(f"{k}={v}" for k, v in sorted(dimensions.items()))
    return f"{metric}@{timestamp.isoformat()}?{dims}"


def accept_points(
    raw_points: Sequence[RawPoint],
    *,
    source: Source,
    metrics: Mapping[str, MetricDefinition],
    now: datetime,
    max_future_skew: timedelta,
) -> list[DataPoint]:
    """Validate every point; all or nothing: one bad point rejects the request (422)."""
    accepted: list[DataPoint] = []
    errors: list[dict[str, str]] = []
    latest = now + max_future_skew
    point_id = PointIds(source.id)
    for raw in raw_points:
        try:
            metric = raw.metric
            if not isinstance(metric, str) or not metric:
                raise ValueError("metric must be a non-empty string")
            if metric not in metrics:
                raise ValueError(f"unknown metric {metric!r}")
            value = raw.value
            if type(value) is not float:
                value = _number(value)
            elif not math.isfinite(value):
                raise ValueError("value must be a finite number")
            timestamp = parse_timestamp(raw.timestamp)
            if timestamp > latest:
                raise ValueError("timestamp is too far in the future")
            dimensions = _dimensions(raw.dimensions)
            event_id = raw.source_event_id
            if event_id is None or event_id == "":
                event_id = content_event_id(metric, timestamp, dimensions)
            elif not isinstance(event_id, str | int):
                raise ValueError("id must be a string")
            event_id = str(event_id)
        except (ValueError, TypeError, OverflowError) as exc:
            errors.append({"point": raw.ref, "error": str(exc)})
            continue
        accepted.append(
            DataPoint(
                id=point_id(event_id, metric),
                tenant=source.tenant,
                metric=metric,
                value=value,
                timestamp=timestamp,
                dimensions=dimensions,
                source_id=source.id,
                source_event_id=event_id,
            )
        )
    if errors:
        shown = ", ".join(f"{e['point']} ({e['error']})" for e in errors[:5])
        more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
        raise InvalidInput(
            f"{len(errors)} data point(s) rejected, nothing was recorded: {shown}{more}",
            errors=errors[:MAX_ERRORS_REPORTED],
        )
    return accepted


def crossings(
    previous: float | None, current: float, thresholds: Sequence[float]
) -> list[tuple[float, Literal["up", "down"]]]:
    """Thresholds passed between two consecutive values; the first value crosses nothing."""
    if previous is None:
        return []
    found: list[tuple[float, Literal["up", "down"]]] = []
    for threshold in sorted(thresholds):
        if previous < threshold <= current:
            found.append((threshold, "up"))
        elif current < threshold <= previous:
            found.append((threshold, "down"))
    return found


def is_stale(definition: MetricDefinition, last_seen: datetime | None, now: datetime) -> bool:
    """Quiet for longer than ``expected_every`` (counted from its definition if never seen)."""
    if definition.expected_every_s is None:
        return False
    since = last_seen or definition.created_at
    return now - since > timedelta(seconds=definition.expected_every_s)
