"""``segment``: Segment track / identify / group / page calls (one call, or ``{"batch": [...]}``).

Rules in ``mapping.events`` turn calls into points: ``event`` matches a track call's name,
``type`` a call type (``identify``, ``group``, ``page``). ``messageId`` identifies the call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.kpi_ingest.domain import parse_timestamp
from services.kpi_ingest.formats.common import (
    ParseContext,
    Parsed,
    apply_rules,
    event_rules,
    need_object,
)
from shared.errors import InvalidInput


def check_mapping(mapping: Mapping[str, Any]) -> None:
    event_rules(mapping)


def parse(body: Any, mapping: Mapping[str, Any], context: ParseContext) -> Parsed:
    payload = need_object(body, "Segment")
    calls = payload["batch"] if isinstance(payload.get("batch"), list) else [payload]
    rules = event_rules(mapping)
    points = []
    ignored = 0
    for n, call in enumerate(calls):
        if not isinstance(call, Mapping):
            raise InvalidInput(f"batch[{n}] is not a Segment call")
        message_id = call.get("messageId")
        ref = (
            f"batch[{n}] (messageId {message_id})" if len(calls) > 1 else f"messageId {message_id}"
        )
        found = apply_rules(
            rules,
            call,
            ref=ref,
            name=call.get("event"),
            kind=call.get("type"),
            event_id=message_id,
            timestamp=call.get("timestamp")
            or call.get("originalTimestamp")
            or call.get("receivedAt")
            or context.received_at,
        )
        ignored += not found
        points.extend(found)
    return Parsed(points=points, ignored=ignored)


def sent_at(body: Any) -> datetime | None:
    """When Segment took the newest call of a delivery in (``receivedAt``, else ``sentAt``, else
    ``timestamp``); None when no call says. A delivery is never newer than this, so its age
    bounds how long ago it could first have been sent (``X-Signature`` carries no time)."""
    calls = body.get("batch") if isinstance(body, Mapping) else None
    if not isinstance(calls, list):
        calls = [body]
    newest: datetime | None = None
    for call in calls:
        if not isinstance(call, Mapping):
            continue
        for name in ("receivedAt", "sentAt", "timestamp"):
            try:
                at = parse_timestamp(call.get(name)) if call.get(name) else None
            except (ValueError, OverflowError):
                at = None
            if at is not None:
                newest = at if newest is None or at > newest else newest
                break
    return newest
