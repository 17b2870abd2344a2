"""Recording administrative and sensitive actions: the audit trail (docs/audit.md).

A use case that does such an action builds an ``audit.recorded`` event with :func:`audit_event`
and writes it in the outbox of the document the action writes (``with_outbox`` or the
``pending_events`` of an insert): the record is stored with the change, or not at all, and the
outbox relay publishes it to ``northstar.audit.v1``. An action that writes no single document
(an import, a deletion) records it in :class:`AuditTrail`'s own outbox collection instead.

Who acted is an :class:`Actor`: a person or an API key (the request's principal), a SCIM token,
or the system.
The record carries the request id and trace id current when it is built, so an auditor can find
the request's log lines and the events it caused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic_core import to_jsonable_python
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth import Principal
from shared.events.audit import AuditRecorded
from shared.events.envelope import Envelope, new_event
from shared.mongo import Document
from shared.tracing import current_traceparent, trace_id_of

AUDIT_OUTBOX = "audit_outbox"


@dataclass(frozen=True)
class Actor:
    """Who did an action: ``type`` is person, api_key, scim_token or system."""

    type: str
    id: str
    roles: tuple[str, ...] = ()

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The caller: a person, or an API key (its id; role ``integration``)."""
        kind = "api_key" if principal.is_api_key else "person"
        return cls(kind, principal.person_id, tuple(sorted(principal.roles)))

    @classmethod
    def scim_token(cls, token_id: str) -> Actor:
        return cls("scim_token", token_id)


SYSTEM = Actor("system", "northstar")


def jsonable(value: Any) -> Any:
    """A value as the event's JSON carries it (dates as ISO text, sets as lists)."""
    return to_jsonable_python(value, fallback=str)


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The before and after of only the fields that differ (a field absent on one side is None
    there), so a record shows what the action changed and nothing else."""
    old, new = jsonable(dict(before)), jsonable(dict(after))
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return {k: old.get(k) for k in keys}, {k: new.get(k) for k in keys}


def audit_event(
    *,
    tenant: str,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    service: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> Envelope:
    """The ``audit.recorded`` event of one action (its id is the record id)."""
    record_id = str(uuid.uuid4())
    traceparent = current_traceparent()
    payload = AuditRecorded(
        id=record_id,
        tenant=tenant,
        service=service,
        action=action,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_roles=list(actor.roles),
        object_type=object_type,
        object_id=object_id,
        at=at or datetime.now(UTC),
        before=jsonable(dict(before or {})),
        after=jsonable(dict(after or {})),
        details=jsonable(dict(details or {})),
        # bound by the request middleware; None for a scheduled job or a consumer
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
        trace_id=trace_id_of(traceparent),
    )
    return new_event(
        payload,
        id=record_id,
        tenant=tenant,
        subject=object_id,
        source=f"northstar/{service}",
        # one object's records stay in order on one partition
        partitionkey=f"{tenant}:{object_type}:{object_id}",
        time=payload.at,
        traceparent=traceparent,
    )


class AuditTrail:
    """Audit records of actions that write no single document to carry them: one document per
    record in the service's ``audit_outbox``, relayed like any outbox (relay it: ``outboxes``)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection: AsyncCollection[Document] = db[AUDIT_OUTBOX]
        self.outboxes = (self.collection,)

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {AUDIT_OUTBOX: [IndexModel([("tenant", ASCENDING), ("at", ASCENDING)])]}

    async def record(self, event: Envelope, *, carried: Sequence[Document] = ()) -> None:
        """Store ``event`` to be relayed; ``carried``: the still unpublished outbox entries of a
        document about to be deleted (its creation's record, say), relayed first. Should that
        document's relay publish them too, the read model keeps one (same event ids)."""
        await self.collection.insert_one(
            {
                "_id": event.id,
                "tenant": event.tenant,
                "at": event.time,
                "pending_events": [*carried, event.to_document()],
            }
        )
