"""Prometheus config and rules pass promtool; Grafana dashboards are current and valid PromQL."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.unit.deploy.conftest import ROOT, run

PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) of every panel target."""
    found = []
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append((name, panel["title"], target["expr"]))
    return found


def test_promtool_accepts_the_prometheus_config_and_its_rule_files(
    tool: Callable[[str], str],
) -> None:
    out = run([tool("promtool"), "check", "config", str(PROMETHEUS / "prometheus.yml")])
    assert "1 rule files found" in out.stdout + out.stderr


def test_promtool_accepts_the_alert_rules(tool: Callable[[str], str]) -> None:
    run([tool("promtool"), "check", "rules", *map(str, (PROMETHEUS / "rules").glob("*.yml"))])


def test_promtool_rule_tests_fire_each_alert_on_the_series_that_should_fire_it(
    tool: Callable[[str], str],
) -> None:
    tests = sorted((PROMETHEUS / "tests").glob("*.yml"))
    assert tests
    run([tool("promtool"), "test", "rules", *map(str, tests)])


def test_every_alert_has_a_rule_test_that_fires_it_and_one_that_does_not() -> None:
    """A new alert without a promtool case (firing and quiet) fails here, not in production."""
    rules = yaml.safe_load((PROMETHEUS / "rules" / "northstar.rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in sorted((PROMETHEUS / "tests").glob("*.yml")):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts, "no alert rules found"
    assert alerts - fired == set(), "alerts no rule test fires"
    assert alerts - quiet == set(), "alerts no rule test shows quiet"


def test_the_alerts_the_runbook_promises_exist() -> None:
    rules = yaml.safe_load((PROMETHEUS / "rules" / "northstar.rules.yml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    wanted = {
        "NorthstarHigh5xxRate": "northstar_http_requests_total",
        "NorthstarConsumerLagHigh": "northstar_consumer_lag",
        "NorthstarDeadLetterQueueGrowing": "northstar_events_dead_lettered_total",
        "NorthstarOutboxBacklogOld": "northstar_outbox_oldest_pending_age_seconds",
        "NorthstarNotificationFailures": "northstar_notifications_total",
    }
    for alert, metric in wanted.items():
        assert metric in alerts[alert]["expr"], alert
        assert alerts[alert]["annotations"]["runbook"].startswith("docs/operations.md#")


def test_dashboards_are_generated_from_the_current_source() -> None:
    run(["python", str(GRAFANA / "generate.py"), "--check"])


def test_every_dashboard_query_is_valid_promql(tool: Callable[[str], str], tmp_path: Path) -> None:
    rules = []
    for i, (_, _, expr) in enumerate(panel_queries()):
        concrete = expr.replace("$__rate_interval", "5m").replace("$service", ".*")
        concrete = re.sub(r"\$\{?\w+\}?", "x", concrete) if "$" in concrete else concrete
        rules.append({"record": f"dashboard:query_{i}", "expr": concrete})
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    run([tool("promtool"), "check", "rules", str(path)])


def test_dashboards_cover_red_events_lag_kpi_sources_and_notification_channels() -> None:
    queries = " ".join(expr for _, _, expr in panel_queries())
    for needle in (
        "northstar_http_requests_total",
        "northstar_http_request_duration_seconds_bucket",
        "northstar_events_published_total",
        "northstar_events_consumed_total",
        "northstar_events_retried_total",
        "northstar_events_dead_lettered_total",
        "northstar_consumer_lag",
        "sum by (source_id) (rate(northstar_kpi_datapoints_total",
        "sum by (channel, outcome) (rate(northstar_notifications_total",
    ):
        assert needle in queries, needle


def test_dashboards_use_the_provisioned_datasource_and_unique_ids() -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    uids = set()
    for name, board in dashboards().items():
        assert board["uid"] not in uids, name
        uids.add(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == uid
