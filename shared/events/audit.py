"""The audit trail's one event on ``northstar.audit.v1`` (key = the audited object).

Each service records its own administrative and sensitive actions (``shared.audit``); the
people service keeps the searchable read model. A record is immutable: its event id is the
record id, and a replay of the same event is the same record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.events.envelope import EventPayload, event
from shared.events.topics import AUDIT


@event("northstar.audit.recorded.v1", AUDIT)
class AuditRecorded(EventPayload):
    id: str
    tenant: str
    service: str
    action: str  # dotted, object type first: ``scim_token.issued``, ``person.deactivated``
    actor_type: str  # person | api_key | scim_token | system
    actor_id: str
    actor_roles: list[str] = []
    object_type: str
    object_id: str
    at: datetime
    # only the fields the action changed, as JSON values
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    details: dict[str, Any] = {}  # what is no field of the object (an import's diff summary)
    request_id: str | None = None
    trace_id: str | None = None
