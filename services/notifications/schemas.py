"""Request and response models of the notifications API."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.notifications.domain import Category, PersonChannel, Setting

Matrix = dict[Category, dict[PersonChannel, Setting]]


class QuietHoursIn(BaseModel):
    start: time
    end: time


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: Matrix = Field(default_factory=dict)
    quiet_hours: QuietHoursIn | None = None
    digest_time: time = time(9, 0)
    time_zone: str | None = Field(None, max_length=64)
    slack_webhook_url: str | None = Field(None, max_length=2048)

    def to_fields(self) -> dict[str, Any]:
        return {
            "channels": {c: dict(v) for c, v in self.channels.items()},
            "quiet_hours": {
                "start": self.quiet_hours.start.isoformat("minutes"),
                "end": self.quiet_hours.end.isoformat("minutes"),
            }
            if self.quiet_hours
            else None,
            "digest_time": self.digest_time.isoformat("minutes"),
            "time_zone": self.time_zone,
            "slack_webhook_url": self.slack_webhook_url,
        }


class PreferencesPublic(BaseModel):
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


class TenantDefaultsPublic(BaseModel):
    channels: Matrix
    locked: list[Category]


class InboxItem(BaseModel):
    id: str
    event_id: str
    event_type: str
    category: str
    title: str
    summary: str
    data: dict[str, Any]
    created_at: datetime
    seen: bool
    read: bool
    archived: bool
    seen_at: datetime | None
    read_at: datetime | None
    archived_at: datetime | None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> InboxItem:
        return cls(
            id=doc["_id"],
            event_id=doc["event_id"],
            event_type=doc["event_type"],
            category=doc["category"],
            title=doc["title"],
            summary=doc["summary"],
            data=doc.get("data") or {},
            created_at=doc["created_at"],
            seen=doc.get("seen_at") is not None,
            read=doc.get("read_at") is not None,
            archived=doc.get("archived_at") is not None,
            seen_at=doc.get("seen_at"),
            read_at=doc.get("read_at"),
            archived_at=doc.get("archived_at"),
        )


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_cursor: str | None = None
    unread_count: int
    unseen_count: int


class InboxCounts(BaseModel):
    unread: int
    unseen: int


class MarkedCount(BaseModel):
    updated: int


class WebhookSubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048)
    event_types: list[str] = Field(min_length=1, max_length=50)
    description: str | None = Field(None, max_length=500)

    @field_validator("event_types")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not t.strip() or len(t) > 200 for t in value):
            raise ValueError("event types must be non-empty names (a trailing * matches a prefix)")
        return sorted(set(value))


class WebhookSubscriptionPublic(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None = None
    active: bool
    disabled_reason: str | None = None
    created_at: datetime


class WebhookSubscriptionCreated(WebhookSubscriptionPublic):
    secret: str = Field(description="whsec_ secret to verify signatures; shown only once")


class Attempt(BaseModel):
    n: int
    at: datetime
    ok: bool
    status_code: int | None = None
    error: str | None = None


class DeliveryPublic(BaseModel):
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

    @classmethod
    def of(cls, doc: dict[str, Any]) -> DeliveryPublic:
        return cls(id=doc["_id"], **{k: v for k, v in doc.items() if k in cls.model_fields})


class DeliveryList(BaseModel):
    items: list[DeliveryPublic]


class Why(BaseModel):
    notification_id: str
    recipient_id: str
    recipient_reason: str
    event: dict[str, Any]
    rule: dict[str, Any]
    decisions: list[dict[str, Any]]
    deliveries: list[DeliveryPublic]
