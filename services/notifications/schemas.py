"""Request and response models of the notifications API."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.notifications.domain import (
    Category,
    PersonChannel,
    Preferences,
    QuietHours,
    Setting,
    TenantDefaults,
)
from shared.pagination import Page

Matrix = dict[Category, dict[PersonChannel, Setting]]
# what the SSRF guard (ssrf.py) needs before it resolves the host, said in the schema; a host
# that does not resolve to a public address is refused with a 422 `/problems/unsafe-url`
WebUrl = Annotated[
    str,
    StringConstraints(max_length=2048, pattern=r"^https?://[^\s/?#@]+"),
    Field(
        description="An http(s) URL whose host resolves to public addresses only "
        "(else a 422 `/problems/unsafe-url`)."
    ),
]
# the IANA names the server knows, so the schema offers only accepted zones
TimeZone = Annotated[
    str, Field(max_length=64, json_schema_extra={"enum": sorted(available_timezones())})
]
EventType = Annotated[str, StringConstraints(max_length=200, pattern=r"\S")]


class Public(BaseModel):
    """A response model read from a domain object's attributes."""

    model_config = ConfigDict(from_attributes=True)


class QuietHoursIn(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: time
    end: time


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: Matrix = Field(default_factory=dict)
    quiet_hours: QuietHoursIn | None = None
    digest_time: time = time(9, 0)
    time_zone: TimeZone | None = None
    slack_webhook_url: WebUrl | None = None

    def to_preferences(self) -> Preferences:
        quiet = self.quiet_hours
        return Preferences(
            channels={c: {str(ch): v for ch, v in m.items()} for c, m in self.channels.items()},
            quiet_hours=QuietHours(quiet.start, quiet.end) if quiet else None,
            digest_time=self.digest_time,
            time_zone=self.time_zone,
            slack_webhook_url=self.slack_webhook_url,
        )


class PreferencesPublic(Public):
    channels: Matrix
    explicit: Matrix
    locked: list[Category]
    quiet_hours: QuietHoursIn | None
    digest_time: str
    time_zone: str | None
    slack_webhook_url: str | None


class TenantDefaultsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: Matrix = Field(default_factory=dict)
    locked: list[Category] = Field(default_factory=list)

    def to_defaults(self) -> TenantDefaults:
        return TenantDefaults(
            channels={c: {str(ch): v for ch, v in m.items()} for c, m in self.channels.items()},
            locked=frozenset(self.locked),
        )


class TenantDefaultsPublic(Public):
    channels: Matrix
    locked: list[Category]

    @field_validator("locked", mode="before")
    @classmethod
    def _in_order(cls, value: Any) -> Any:
        return sorted(value) if isinstance(value, frozenset | set) else value


class InboxItem(Public):
    id: str
    event_id: str
    event_type: str
    category: str
    title: str
    summary: str
    data: dict[str, Any]
    page: str = Field(description="the web app page it opens, e.g. /goals/{id} (a path)")
    created_at: datetime
    seen: bool
    read: bool
    archived: bool
    seen_at: datetime | None
    read_at: datetime | None
    archived_at: datetime | None


class InboxPage(Page[InboxItem]):
    unread_count: int
    unseen_count: int


class InboxCounts(BaseModel):
    unread: int
    unseen: int


class MarkedCount(BaseModel):
    updated: int


class WebhookSubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: WebUrl
    event_types: list[EventType] = Field(min_length=1, max_length=50)
    description: str | None = Field(None, max_length=500)

    @field_validator("event_types")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not t.strip() or len(t) > 200 for t in value):
            raise ValueError("event types must be non-empty names (a trailing * matches a prefix)")
        return sorted(set(value))


class WebhookSubscriptionPublic(Public):
    id: str
    url: str
    event_types: list[str]
    description: str | None = None
    active: bool
    disabled_reason: str | None = None
    created_at: datetime


class WebhookSubscriptionCreated(WebhookSubscriptionPublic):
    secret: str = Field(description="whsec_ secret to verify signatures; shown only once")


class Attempt(Public):
    n: int
    at: datetime
    ok: bool
    status_code: int | None = None
    error: str | None = None


class DeliveryPublic(Public):
    id: str
    event_id: str
    recipient_id: str
    channel: str
    kind: str
    status: str
    reason: str | None = None
    due_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    attempts: list[Attempt] = []


class WhyEvent(Public):
    id: str
    type: str
    subject: str
    time: datetime


class WhyRule(Public):
    name: str
    category: str
    description: str


class Decision(Public):
    channel: PersonChannel
    setting: Setting
    source: str
    reason: str


class Why(Public):
    notification_id: str
    recipient_id: str
    recipient_reason: str
    event: WhyEvent
    rule: WhyRule
    decisions: list[Decision]
    deliveries: list[DeliveryPublic]
