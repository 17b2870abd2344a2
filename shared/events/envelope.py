"""The event envelope (CloudEvents 1.0 attributes + JSON data); see docs/architecture.md#events.

On Kafka an envelope travels in binary content mode (codec.py): the JSON payload is the record
value, the attributes are ``ce_*`` headers, and the record key is the partition key (the
aggregate id unless said otherwise) so one aggregate stays in order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.tracing import current_traceparent


class EventPayload(BaseModel):
    """Base of every payload in the catalogue; consumers ignore fields they don't know."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    # True for a type written as a Kafka tombstone: its key with a null value (codec.to_record)
    tombstone: ClassVar[bool] = False


CATALOGUE: dict[str, type[EventPayload]] = {}

P = TypeVar("P", bound=type[EventPayload])


def event(event_type: str, topic: str) -> Callable[[P], P]:
    """Register a payload model under its CloudEvents ``type`` and the topic it travels on."""

    def register(cls: P) -> P:
        if event_type in CATALOGUE:
            raise ValueError(f"event type {event_type} registered twice")
        cls.event_type = event_type
        cls.topic = topic
        CATALOGUE[event_type] = cls
        return cls

    return register


class MalformedEvent(ValueError):
    """A record that is not a readable Northstar CloudEvent: poison, never retried."""


@dataclass(frozen=True)
class Envelope:
    """One CloudEvent: its attributes and its JSON data."""

    id: str
    type: str
    source: str
    subject: str
    tenant: str
    data: dict[str, Any]
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    partitionkey: str | None = None
    traceparent: str | None = None

    @property
    def key(self) -> str:
        return self.partitionkey or self.subject

    @property
    def topic(self) -> str:
        return payload_class(self.type).topic

    def payload(self) -> EventPayload:
        """The typed payload; raises MalformedEvent when the data does not fit the contract."""
        try:
            return payload_class(self.type).model_validate(self.data)
        except ValidationError as exc:
            raise MalformedEvent(f"{self.type} payload does not match its schema: {exc}") from exc

    def to_document(self) -> dict[str, Any]:
        """The form kept in an aggregate's outbox (``pending_events``)."""
        return {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "tenant": self.tenant,
            "time": self.time,
            "partitionkey": self.partitionkey,
            "traceparent": self.traceparent,
            "data": self.data,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Envelope:
        time = doc["time"]
        if time.tzinfo is None:  # BSON dates come back naive, in UTC
            time = time.replace(tzinfo=UTC)
        return cls(
            id=doc["id"],
            type=doc["type"],
            source=doc["source"],
            subject=doc["subject"],
            tenant=doc["tenant"],
            data=doc["data"],
            time=time,
            partitionkey=doc.get("partitionkey"),
            traceparent=doc.get("traceparent"),
        )


def payload_class(event_type: str) -> type[EventPayload]:
    try:
        return CATALOGUE[event_type]
    except KeyError:
        raise MalformedEvent(f"unknown event type {event_type}") from None


def new_event(
    payload: EventPayload,
    *,
    tenant: str,
    subject: str,
    source: str,
    id: str | None = None,
    partitionkey: str | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> Envelope:
    """Wrap a payload in an envelope; pass ``id`` when a retry must produce the same event.

    The event carries the current span's trace context (the request or the event that caused
    it) unless ``traceparent`` says otherwise.
    """
    return Envelope(
        id=id or str(uuid.uuid4()),
        type=payload.event_type,
        source=source,
        subject=subject,
        tenant=tenant,
        data=payload.model_dump(mode="json"),
        time=time or datetime.now(UTC),
        partitionkey=partitionkey,
        traceparent=traceparent or current_traceparent(),
    )


def deterministic_id(*parts: str) -> str:
    """A stable event id from the things that make an event unique (UUIDv5)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "northstar:" + "\x1f".join(parts)))


# The codec lives in codec.py (it needs the Envelope defined above); its two record functions
# stay importable from here, where every producer and consumer has always found them.
from shared.events.codec import from_record, to_record  # noqa: E402

__all__ = [
    "CATALOGUE",
    "Envelope",
    "EventPayload",
    "MalformedEvent",
    "deterministic_id",
    "event",
    "from_record",
    "new_event",
    "payload_class",
    "to_record",
]
