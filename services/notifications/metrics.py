"""Metrics of the notifications service (names fixed in the cross-service notes)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

NOTIFICATIONS = Counter(
    "northstar_notifications_total",
    "Notifications by channel and outcome (delivered, failed, suppressed, deferred, digested)",
    ["service", "channel", "outcome"],
)
DELIVERY_DURATION = Histogram(
    "northstar_notification_delivery_duration_seconds",
    "Time one delivery attempt took (SMTP session, HTTP round trip)",
    ["service", "channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
