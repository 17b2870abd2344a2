"""Every metric the dashboards and alert rules query is exported by the running services."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from pymongo import MongoClient

from shared.cli import SERVICES
from tests.support import MONGODB_URI, isolated_settings, unique
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


# metrics only one service defines; a scrape of any other service must not list them
OWN_METRICS = {
    "kpi_ingest": {"northstar_kpi_datapoints_total", "northstar_kpi_webhook_requests_total"},
    "notifications": {
        "northstar_notifications_total",
        "northstar_notification_delivery_duration_seconds",
    },
}
# every service serves HTTP and relays an outbox or consumes events through shared/
SHARED_METRICS = {"northstar_http_requests_total", "northstar_http_request_duration_seconds"}
SERVICE_LABEL = re.compile(r'\bservice="([^"]*)"')
PORTS = range(18470, 18999)  # the range helpers' manual checks use, not 8000-8006

# One service alone in a fresh interpreter: its metrics registry holds what ITS code registers,
# not what the other services' modules would add to a shared in-process registry.
SERVE_ALONE = """
import importlib, sys
import uvicorn
from tests.support import isolated_settings
from tests.unit.deploy.settings_env import settings_class
service, port, run_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
settings = isolated_settings(settings_class(service), run_id=run_id)
app = importlib.import_module(f"services.{service}.main").create_app(settings)
uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
"""


def free_port(exclude: set[int]) -> int:
    for port in PORTS:
        if port in exclude:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 18470-18998")


@contextmanager
def serving_alone(services: list[str], run_id: str) -> Iterator[dict[str, httpx.Client]]:
    """Each service in its own process on its own port, started together (start-up is mostly
    imports: the two cores take them in parallel); stopped (and their databases dropped) after."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ports: dict[str, int] = {}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for service in services:
            ports[service] = port = free_port(exclude=set(ports.values()))
            processes[service] = subprocess.Popen(
                [sys.executable, "-c", SERVE_ALONE, service, str(port), run_id],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        with ExitStack() as clients:
            ready = {
                service: clients.enter_context(
                    httpx.Client(base_url=f"http://127.0.0.1:{ports[service]}", timeout=5)
                )
                for service in services
            }
            deadline = time.monotonic() + 90
            for service, client in ready.items():
                process = processes[service]
                while True:
                    assert process.poll() is None, process.stderr and process.stderr.read().decode()
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, f"{service} did not start"
                    time.sleep(0.2)
            yield ready
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with MongoClient(MONGODB_URI) as mongo:
            for service in processes:
                settings = isolated_settings(settings_class(service), run_id=run_id)
                mongo.drop_database(settings.mongodb_database)


@pytest.fixture(scope="module")
def scraped_alone() -> dict[str, str]:
    """Each service's /metrics, every service run alone in its own process."""
    with serving_alone(sorted(SERVICES), unique()) as clients:
        scraped: dict[str, str] = {}
        for service, client in clients.items():
            response = client.get("/metrics")
            assert response.status_code == 200, service
            scraped[service] = response.text
    return scraped


def test_every_metric_in_dashboards_and_alerts_is_exported_by_the_services(
    scraped_alone: dict[str, str],
) -> None:
    exported = set().union(*(exported_series(text) for text in scraped_alone.values()))
    wanted = queried()
    assert len(wanted) >= 15
    missing = {name: sorted(where) for name, where in wanted.items() if name not in exported}
    assert not missing, f"queried but not exported: {missing}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_run_alone_exports_its_own_metrics_and_no_other_services(
    scraped_alone: dict[str, str], service: str
) -> None:
    text = scraped_alone[service]
    exported = exported_series(text)
    assert exported >= SHARED_METRICS, service
    assert exported >= OWN_METRICS.get(service, set()), service
    others = set().union(*(m for name, m in OWN_METRICS.items() if name != service))
    assert not exported & others, f"{service} lists another service's metrics"
    # the samples it has (its /healthz request at least) carry its own service label only
    labels = set(SERVICE_LABEL.findall(text))
    assert labels == {service}, labels


def test_the_metric_names_are_read_from_every_source() -> None:
    wanted = queried()
    assert {"northstar_http_requests_total", "northstar_consumer_lag"} <= set(wanted)
    assert "northstar-http.json" in wanted["northstar_http_requests_total"]
    assert "prometheusrule.yaml" in wanted["northstar_consumer_lag"]
    assert "northstar_notifications_total" in wanted
    assert "northstar_kpi_datapoints_total" in wanted
