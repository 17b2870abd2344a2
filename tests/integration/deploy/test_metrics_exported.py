"""Every metric the dashboards and alert rules query is exported by the running services."""

from __future__ import annotations

import importlib
import json
import re
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import yaml

from shared.cli import SERVICES
from tests.support import isolated_settings, running, unique
from tests.unit.deploy.settings_env import settings_class

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
METRIC = re.compile(r"\bnorthstar_[a-z0-9_]+")
SUFFIXES = ("_bucket", "_sum", "_count")


def queried() -> dict[str, set[str]]:
    """Metric name → where it is queried (dashboards, rules, the PrometheusRule)."""
    found: dict[str, set[str]] = {}

    def add(text: str, where: str) -> None:
        for name in METRIC.findall(text):
            found.setdefault(name, set()).add(where)

    for path in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                add(target["expr"], path.name)
        for variable in board["templating"]["list"]:
            add(variable["definition"], path.name)
    for path in [
        *sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml")),
        ROOT / "deploy" / "k8s" / "base" / "monitoring" / "prometheusrule.yaml",
    ]:
        doc = yaml.safe_load(path.read_text())
        groups = doc["groups"] if "groups" in doc else doc["spec"]["groups"]
        for group in groups:
            for rule in group["rules"]:
                add(rule["expr"], path.name)
    return found


def exported_series(exposition: str) -> set[str]:
    """Series names a scrape can hold, from the HELP/TYPE lines (present before any sample)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        match = re.match(r"# TYPE (\S+) (\w+)", line)
        if not match:
            continue
        name, kind = match.groups()
        names.add(name)
        if kind == "histogram":
            names |= {name + suffix for suffix in SUFFIXES}
        if kind == "counter" and not name.endswith("_total"):
            names.add(name + "_total")
    # counters print their HELP/TYPE under the _total name already
    return names


async def test_every_metric_in_dashboards_and_alerts_is_exported_by_the_services() -> None:
    run_id = unique()
    scraped: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        for service in SERVICES:
            create_app = importlib.import_module(f"services.{service}.main").create_app
            settings = isolated_settings(settings_class(service), run_id=run_id)
            client = await stack.enter_async_context(running(create_app(settings)))
            response = await client.get("/metrics")
            assert response.status_code == 200, service
            scraped[service] = response.text
            assert (await client.get("/healthz")).status_code == 200
    exported = set().union(*(exported_series(text) for text in scraped.values()))
    wanted = queried()
    assert len(wanted) >= 15
    missing = {name: sorted(where) for name, where in wanted.items() if name not in exported}
    assert not missing, f"queried but not exported: {missing}"


def test_the_metric_names_are_read_from_every_source() -> None:
    wanted = queried()
    assert {"northstar_http_requests_total", "northstar_consumer_lag"} <= set(wanted)
    assert "northstar-http.json" in wanted["northstar_http_requests_total"]
    assert "prometheusrule.yaml" in wanted["northstar_consumer_lag"]
    assert "northstar_notifications_total" in wanted
    assert "northstar_kpi_datapoints_total" in wanted
