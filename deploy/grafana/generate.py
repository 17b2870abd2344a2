"""Writes the Grafana dashboards in deploy/grafana/dashboards/ (run it after editing the panels).

    python deploy/grafana/generate.py           # rewrite the JSON files
    python deploy/grafana/generate.py --check   # exit 1 if the files differ from this source

The panels are declared here, once, so every dashboard shares one layout and one datasource; a
test runs ``--check`` and checks that every metric a panel queries is exported by the services.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("dashboards")
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
SERVICE_VAR = "service"

Panel = dict[str, Any]


def timeseries(
    title: str,
    *queries: tuple[str, str],
    unit: str = "short",
    description: str = "",
    stack: bool = False,
) -> Panel:
    """A time series panel; ``queries`` are (PromQL, legend) pairs."""
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": {
                    "drawStyle": "line",
                    "lineWidth": 1,
                    "fillOpacity": 10,
                    "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                },
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": [
            {
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
                "refId": chr(ord("A") + i),
            }
            for i, (expr, legend) in enumerate(queries)
        ],
    }


def stat(title: str, expr: str, *, unit: str = "short", description: str = "") -> Panel:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        "targets": [{"datasource": DATASOURCE, "expr": expr, "refId": "A"}],
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def service_variable(metric: str) -> dict[str, Any]:
    return {
        "name": SERVICE_VAR,
        "label": "Service",
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": f"label_values({metric}, service)", "refId": "service"},
        "definition": f"label_values({metric}, service)",
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def dashboard(
    uid: str, title: str, panels: list[Panel], *, variables: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Lay the panels out two per row (rows full width) and wrap them in a dashboard."""
    laid: list[Panel] = []
    x = y = 0
    for index, panel in enumerate(panels, start=1):
        panel = {"id": index, **panel}
        if panel["type"] == "row":
            if x:
                x, y = 0, y + 8
            panel["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
            y += 1
        else:
            width = 6 if panel["type"] == "stat" else 12
            if x + width > 24:
                x, y = 0, y + 8
            panel["gridPos"] = {
                "h": 4 if panel["type"] == "stat" else 8,
                "w": width,
                "x": x,
                "y": y,
            }
            x += width
        laid.append(panel)
    return {
        "uid": uid,
        "title": title,
        "tags": ["northstar"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": variables or []},
        "annotations": {"list": []},
        "links": [],
        "panels": laid,
    }


S = f'service=~"${SERVICE_VAR}"'


def http_red() -> dict[str, Any]:
    panels: list[Panel] = [
        row("Rate, errors, duration"),
        timeseries(
            "Requests per second by service",
            (
                f"sum by (service) (rate(northstar_http_requests_total{{{S}}}[$__rate_interval]))",
                "{{service}}",
            ),
            unit="reqps",
        ),
        timeseries(
            "5xx ratio by service",
            (
                f'sum by (service) (rate(northstar_http_requests_total{{{S},status=~"5.."}}'
                "[$__rate_interval]))"
                f" / sum by (service) (rate(northstar_http_requests_total{{{S}}}"
                "[$__rate_interval]))",
                "{{service}}",
            ),
            unit="percentunit",
            description="Share of requests answered with a server error (alert above 5%).",
        ),
        timeseries(
            "Latency p50 / p95 / p99 by service",
            *[
                (
                    f"histogram_quantile({q}, sum by (service, le) "
                    f"(rate(northstar_http_request_duration_seconds_bucket{{{S}}}"
                    "[$__rate_interval])))",
                    f"{{{{service}}}} p{int(q * 100)}",
                )
                for q in (0.5, 0.95, 0.99)
            ],
            unit="s",
        ),
        timeseries(
            "Requests by status class",
            (
                f"sum by (service, status) (label_replace(rate(northstar_http_requests_total{{{S}}}"
                '[$__rate_interval]), "status", "${1}xx", "status", "(.).."))',
                "{{service}} {{status}}",
            ),
            unit="reqps",
            stack=True,
        ),
        row("Routes"),
        timeseries(
            "Requests per second by route",
            (
                "sum by (service, method, route) "
                f"(rate(northstar_http_requests_total{{{S}}}[$__rate_interval]))",
                "{{service}} {{method}} {{route}}",
            ),
            unit="reqps",
        ),
        timeseries(
            "p95 latency by route",
            (
                "histogram_quantile(0.95, sum by (service, method, route, le) "
                f"(rate(northstar_http_request_duration_seconds_bucket{{{S}}}[$__rate_interval])))",
                "{{service}} {{method}} {{route}}",
            ),
            unit="s",
        ),
        timeseries(
            "Errors (4xx and 5xx) by route",
            (
                "sum by (service, method, route, status) "
                f'(rate(northstar_http_requests_total{{{S},status=~"[45].."}}[$__rate_interval]))',
                "{{service}} {{method}} {{route}} {{status}}",
            ),
            unit="reqps",
        ),
        timeseries(
            "Requests in flight",
            (f"sum by (service) (northstar_http_requests_in_flight{{{S}}})", "{{service}}"),
        ),
    ]
    return dashboard(
        "northstar-http",
        "Northstar / HTTP (RED)",
        panels,
        variables=[service_variable("northstar_http_requests_total")],
    )


def events() -> dict[str, Any]:
    rate = "[$__rate_interval]"
    panels: list[Panel] = [
        row("Flow"),
        timeseries(
            "Published per second by service and type",
            (
                f"sum by (service, type) (rate(northstar_events_published_total{{{S}}}{rate}))",
                "{{service}} {{type}}",
            ),
            unit="ops",
        ),
        timeseries(
            "Consumed per second by group and outcome",
            (
                "sum by (service, group, outcome) "
                f"(rate(northstar_events_consumed_total{{{S}}}{rate}))",
                "{{service}}/{{group}} {{outcome}}",
            ),
            unit="ops",
        ),
        timeseries(
            "Handler retries per second",
            (
                "sum by (service, group, type) "
                f"(rate(northstar_events_retried_total{{{S}}}{rate}))",
                "{{service}}/{{group}} {{type}}",
            ),
            unit="ops",
            description="Transient errors (outages, lost optimistic races) retried in place.",
        ),
        timeseries(
            "Dead-lettered (per 15 min)",
            (
                "sum by (service, group, topic) "
                f"(increase(northstar_events_dead_lettered_total{{{S}}}[15m]))",
                "{{service}}/{{group}} {{topic}}",
            ),
            description="Records sent to <topic>.dlq; replay them with `northstar dlq replay`.",
        ),
        timeseries(
            "Publish failures per second",
            (
                "sum by (service, topic) "
                f"(rate(northstar_event_publish_failures_total{{{S}}}{rate}))",
                "{{service}} {{topic}}",
            ),
            unit="ops",
        ),
        timeseries(
            "Handler p95 duration by type",
            (
                "histogram_quantile(0.95, sum by (service, type, le) "
                f"(rate(northstar_event_handler_duration_seconds_bucket{{{S}}}{rate})))",
                "{{service}} {{type}}",
            ),
            unit="s",
        ),
        row("Backlogs"),
        timeseries(
            "Consumer lag by group and topic",
            (
                f"sum by (service, group, topic) (northstar_consumer_lag{{{S}}})",
                "{{service}}/{{group}} {{topic}}",
            ),
            description="Records between the group's position and the end of the partitions.",
        ),
        timeseries(
            "Consumer lag by partition",
            (
                f"max by (group, topic, partition) (northstar_consumer_lag{{{S}}})",
                "{{group}} {{topic}}[{{partition}}]",
            ),
        ),
        timeseries(
            "Outbox: oldest pending event age",
            (
                "max by (service, collection) "
                f"(northstar_outbox_oldest_pending_age_seconds{{{S}}})",
                "{{service}} {{collection}}",
            ),
            unit="s",
        ),
        timeseries(
            "Outbox: documents with pending events",
            (
                f"sum by (service, collection) (northstar_outbox_pending_documents{{{S}}})",
                "{{service}} {{collection}}",
            ),
        ),
        timeseries(
            "Outbox: relayed events per second",
            (
                "sum by (service, collection) "
                f"(rate(northstar_outbox_relayed_events_total{{{S}}}{rate}))",
                "{{service}} {{collection}}",
            ),
            unit="ops",
        ),
    ]
    return dashboard(
        "northstar-events",
        "Northstar / Events",
        panels,
        variables=[service_variable("northstar_events_published_total")],
    )


def kpi_ingest() -> dict[str, Any]:
    rate = "[$__rate_interval]"
    panels: list[Panel] = [
        stat(
            "Data points accepted (24h)",
            'sum(increase(northstar_kpi_datapoints_total{outcome="accepted"}[24h]))',
        ),
        stat(
            "Webhook requests (24h)",
            "sum(increase(northstar_kpi_webhook_requests_total[24h]))",
        ),
        stat(
            "Webhook non-2xx ratio (1h)",
            'sum(rate(northstar_kpi_webhook_requests_total{status!~"2.."}[1h]))'
            " / sum(rate(northstar_kpi_webhook_requests_total[1h]))",
            unit="percentunit",
        ),
        stat(
            "Sources sending (1h)",
            "count(sum by (source_id) (increase(northstar_kpi_datapoints_total[1h])) > 0)",
        ),
        row("By source"),
        timeseries(
            "Data points per second by source",
            (f"sum by (source_id) (rate(northstar_kpi_datapoints_total{rate}))", "{{source_id}}"),
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Data points by source and outcome",
            (
                f"sum by (source_id, outcome) (rate(northstar_kpi_datapoints_total{rate}))",
                "{{source_id}} {{outcome}}",
            ),
            unit="ops",
        ),
        timeseries(
            "Data points by format",
            (
                f"sum by (format, outcome) (rate(northstar_kpi_datapoints_total{rate}))",
                "{{format}} {{outcome}}",
            ),
            unit="ops",
        ),
        timeseries(
            "Webhook requests by status",
            (
                f"sum by (format, status) (rate(northstar_kpi_webhook_requests_total{rate}))",
                "{{format}} {{status}}",
            ),
            unit="reqps",
            description="429 means a source hit its rate limit; 401 a bad signature.",
        ),
    ]
    return dashboard("northstar-kpi-ingest", "Northstar / KPI ingest", panels)


def notifications() -> dict[str, Any]:
    rate = "[$__rate_interval]"
    panels: list[Panel] = [
        stat(
            "Delivered (24h)",
            'sum(increase(northstar_notifications_total{outcome="delivered"}[24h]))',
        ),
        stat("Failed (24h)", 'sum(increase(northstar_notifications_total{outcome="failed"}[24h]))'),
        stat(
            "Failure ratio (1h)",
            'sum(rate(northstar_notifications_total{outcome="failed"}[1h]))'
            ' / sum(rate(northstar_notifications_total{outcome=~"delivered|failed"}[1h]))',
            unit="percentunit",
        ),
        stat(
            "Email p95 delivery (1h)",
            "histogram_quantile(0.95, sum by (le) (rate("
            'northstar_notification_delivery_duration_seconds_bucket{channel="email"}[1h])))',
            unit="s",
        ),
        row("By channel"),
        timeseries(
            "Notifications per second by channel and outcome",
            (
                f"sum by (channel, outcome) (rate(northstar_notifications_total{rate}))",
                "{{channel}} {{outcome}}",
            ),
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Failure ratio by channel",
            (
                f'sum by (channel) (rate(northstar_notifications_total{{outcome="failed"}}{rate}))'
                " / sum by (channel) (rate(northstar_notifications_total"
                f'{{outcome=~"delivered|failed"}}{rate}))',
                "{{channel}}",
            ),
            unit="percentunit",
        ),
        timeseries(
            "Delivery duration p50 / p95 by channel",
            *[
                (
                    f"histogram_quantile({q}, sum by (channel, le) "
                    f"(rate(northstar_notification_delivery_duration_seconds_bucket{rate})))",
                    f"{{{{channel}}}} p{int(q * 100)}",
                )
                for q in (0.5, 0.95)
            ],
            unit="s",
        ),
        timeseries(
            "Suppressed, deferred and digested",
            (
                "sum by (channel, outcome) (rate(northstar_notifications_total"
                f'{{outcome=~"suppressed|deferred|digested"}}{rate}))',
                "{{channel}} {{outcome}}",
            ),
            unit="ops",
            description="Preferences, quiet hours and digests at work (not errors).",
        ),
    ]
    return dashboard("northstar-notifications", "Northstar / Notifications", panels)


DASHBOARDS = {
    "northstar-http.json": http_red,
    "northstar-events.json": events,
    "northstar-kpi-ingest.json": kpi_ingest,
    "northstar-notifications.json": notifications,
}


def render() -> dict[str, str]:
    return {
        name: json.dumps(build(), indent=2, sort_keys=True) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, don't write")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale dashboards (run {Path(__file__).name}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
