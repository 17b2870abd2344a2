"""The one CloudEvents codec: Kafka binary mode, structured JSON, and the KPI points' fast path.

The general path goes through the official SDK (``cloudevents`` 2.x, its ``core`` API): an
:class:`Envelope` becomes an SDK ``CloudEvent`` (which validates the attributes) and the SDK's
Kafka binding writes or reads the record; attributes travel as ``ce_*`` headers, the JSON data is
the value, the ``partitionkey`` extension is the record key. The only thing we give the SDK is
the data format: :class:`CompactJson`, an SDK ``Format`` with orjson (compact, and a tenth of
the cost of the standard library's ``json``).

The fast path, :func:`datapoint_records`, writes the records of ``kpi.datapoint.recorded``
without building an event object per point: at a thousand points a request the SDK path costs
about as much as everything else ingest does. A unit test pins it byte for byte to the SDK path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from shared.events.envelope import Envelope, MalformedEvent, payload_class
from shared.events.kpi import KpiDatapointRecorded, series_key

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

Record = tuple[bytes, bytes | None, list[tuple[str, bytes]]]


class CompactJson(JSONFormat):
    """The SDK's JSON format, serialised by orjson; data must be a JSON object."""

    def write_data(
        self, data: dict[str, Any] | str | bytes | None, datacontenttype: str | None
    ) -> bytes:
        return orjson.dumps(data)

    def read_data(
        self, body: bytes, datacontenttype: str | None
    ) -> dict[str, Any] | str | bytes | None:
        try:
            data = orjson.loads(body or b"null")
        except orjson.JSONDecodeError as exc:
            raise MalformedEvent(f"record value is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise MalformedEvent("record value must be a JSON object")
        return data

    def write(self, event: BaseCloudEvent) -> bytes:
        # OPT_UTC_Z: the time as the SDK writes it ("...Z", not "+00:00")
        attributes = {**event.get_attributes(), "data": event.get_data()}
        return orjson.dumps(attributes, option=orjson.OPT_UTC_Z)


FORMAT = CompactJson()


def rfc3339(value: datetime) -> str:
    """The CloudEvents ``time`` form: UTC, ``Z`` suffix (as the SDK writes it)."""
    if value.tzinfo is not UTC:  # accepted points are in UTC already: skip the conversion
        value = value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def to_cloudevent(envelope: Envelope, *, partitionkey: bool = True) -> CloudEvent:
    """The SDK's event for an envelope (attribute order = header order on the record)."""
    attributes: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "time": envelope.time.astimezone(UTC),
        "subject": envelope.subject,
        "tenant": envelope.tenant,
    }
    if partitionkey:
        attributes["partitionkey"] = envelope.key
    attributes["datacontenttype"] = CONTENT_TYPE
    if envelope.traceparent:
        attributes["traceparent"] = envelope.traceparent
    return CloudEvent(attributes, envelope.data)


def to_record(envelope: Envelope) -> Record:
    """Key, value and headers of the Kafka record for this event (binary content mode).

    A tombstone type keeps its key and ``ce_*`` headers (who and which tenant) and drops the
    value: compaction then removes every earlier record of that key.
    """
    message = kafka.to_binary(to_cloudevent(envelope), FORMAT)
    key = message.key.encode() if isinstance(message.key, str) else message.key
    assert key is not None  # every envelope has a partition key
    value = None if payload_class(envelope.type).tombstone else message.value
    return key, value, list(message.headers.items())


_REQUIRED = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_tenant")


def from_record(
    value: bytes | None, headers: Sequence[tuple[str, bytes]] | Iterable[tuple[str, bytes]]
) -> Envelope:
    """Read a record written by :func:`to_record` (or any binary-mode CloudEvent we accept)."""
    raw = dict(headers)
    missing = [name for name in _REQUIRED if not raw.get(name)]
    if missing:
        raise MalformedEvent(f"record lacks CloudEvents headers: {', '.join(missing)}")
    if raw["ce_specversion"] != SPEC_VERSION.encode():
        version = raw["ce_specversion"].decode("utf-8", "replace")
        raise MalformedEvent(f"unsupported CloudEvents specversion {version}")
    try:
        event = kafka.from_binary(
            kafka.KafkaMessage(headers=raw, key=None, value=value or b""), FORMAT, CloudEvent
        )
    except (BaseCloudEventException, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"record is not a valid CloudEvent: {exc}") from exc
    except ValueError as exc:  # dateutil's parser, on a ce_time that is not RFC 3339
        raise MalformedEvent(f"ce_time is not RFC 3339: {exc}") from exc
    return _envelope(event)


def _envelope(event: BaseCloudEvent) -> Envelope:
    time = event.get_time()
    data = event.get_data()
    assert isinstance(data, dict)  # CompactJson.read_data admits nothing else
    return Envelope(
        id=event.get_id(),
        type=event.get_type(),
        source=event.get_source(),
        subject=event.get_subject() or "",
        tenant=event.get_extension("tenant"),
        data=data,
        time=time.astimezone(UTC) if time is not None else datetime.now(UTC),
        partitionkey=event.get_extension("partitionkey"),
        traceparent=event.get_extension("traceparent"),
    )


def to_structured(envelope: Envelope) -> bytes:
    """The event in CloudEvents structured JSON (the body of outbound webhooks)."""
    return FORMAT.write(to_cloudevent(envelope, partitionkey=False))


def from_structured(body: bytes) -> Envelope:
    """Read structured JSON written by :func:`to_structured`."""
    try:
        event = FORMAT.read(CloudEvent, body)
    except (BaseCloudEventException, ValueError) as exc:
        raise MalformedEvent(f"not a structured CloudEvent: {exc}") from exc
    if not isinstance(event.get_data(), dict) or not event.get_extension("tenant"):
        raise MalformedEvent("a structured CloudEvent needs a JSON object and a tenant")
    return _envelope(event)


# ---------------------------------------------------------------- the KPI points' fast path


class RecordedPoint(Protocol):
    """What a data point must offer to be published (kpi_ingest's ``DataPoint`` does)."""

    @property
    def id(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def dimensions(self) -> Mapping[str, str]: ...
    @property
    def source_id(self) -> str: ...
    @property
    def source_event_id(self) -> str: ...


def datapoint_data(point: RecordedPoint) -> dict[str, Any]:
    """The ``kpi.datapoint.recorded`` data of a point (the KpiDatapointRecorded contract)."""
    return {
        "id": point.id,
        "tenant": point.tenant,
        "metric": point.metric,
        "value": point.value,
        "timestamp": rfc3339(point.timestamp),
        "dimensions": point.dimensions,
        "source_id": point.source_id,
        "source_event_id": point.source_event_id,
    }


def datapoint_records(
    points: Sequence[RecordedPoint],
    *,
    source: str,
    now: datetime,
    traceparent: str | None = None,
) -> list[Record]:
    """The records :func:`to_record` writes for these points' events, byte for byte, without the
    per-point event objects: the headers every point of a request shares are built once
    (``traceparent``: the request's trace context, the ``ce_traceparent`` header)."""
    spec = ("ce_specversion", SPEC_VERSION.encode())
    origin = ("ce_source", source.encode())
    kind = ("ce_type", KpiDatapointRecorded.event_type.encode())
    time = ("ce_time", rfc3339(now).encode())
    content = ("content-type", CONTENT_TYPE.encode())
    trail = [("ce_traceparent", traceparent.encode())] if traceparent else []
    subjects: dict[tuple[str, str], tuple[tuple[str, bytes], tuple[str, bytes]]] = {}
    records: list[Record] = []
    for p in points:
        shared = subjects.get((p.tenant, p.metric))
        if shared is None:
            shared = subjects[(p.tenant, p.metric)] = (
                ("ce_subject", f"{p.tenant}:{p.metric}".encode()),
                ("ce_tenant", p.tenant.encode()),
            )
        key = series_key(p.tenant, p.metric, p.dimensions).encode()
        headers = [
            spec,
            ("ce_id", p.id.encode()),
            origin,
            kind,
            time,
            shared[0],
            shared[1],
            ("ce_partitionkey", key),
            content,
            *trail,
        ]
        records.append((key, orjson.dumps(datapoint_data(p)), headers))
    return records
