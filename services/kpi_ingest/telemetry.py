"""The service's own Prometheus metrics (names fixed by the dashboards)."""

from __future__ import annotations

from prometheus_client import Counter

DATAPOINTS = Counter(
    "northstar_kpi_datapoints_total",
    "KPI data points received by webhook, by outcome (accepted, rejected, duplicate, unavailable)",
    ["service", "source_id", "format", "outcome"],
)
WEBHOOK_REQUESTS = Counter(
    "northstar_kpi_webhook_requests_total",
    "KPI webhook requests by payload format and HTTP status",
    ["service", "format", "status"],
)
