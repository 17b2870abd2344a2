"""Events of the notifications service on ``northstar.notifications.v1`` (key = notification id)."""

from __future__ import annotations

from shared.events.envelope import EventPayload, event
from shared.events.topics import NOTIFICATIONS

# A daily digest answers no single event: its delivery (and the ``source_event_type`` of its
# delivered/failed events) carries this name instead. Never published as an event of its own.
DIGEST_SOURCE_TYPE = "northstar.notification.digest"


@event("northstar.notification.delivered.v1", NOTIFICATIONS)
class NotificationDelivered(EventPayload):
    notification_id: str
    tenant: str
    event_id: str
    source_event_type: str
    recipient_id: str | None = None
    channel: str
    category: str
    attempts: int = 1


@event("northstar.notification.failed.v1", NOTIFICATIONS)
class NotificationFailed(EventPayload):
    notification_id: str
    tenant: str
    event_id: str
    source_event_type: str
    recipient_id: str | None = None
    channel: str
    category: str
    attempts: int
    error: str
    subscription_id: str | None = None
