"""docker-compose.yml validates, and runs each service the way the service reads its settings."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import yaml

from shared.cli import SERVICES, build_parser
from tests.unit.deploy.conftest import ROOT, run
from tests.unit.deploy.settings_env import load_settings, read_by

SECRET_ENV = {
    "NORTHSTAR_ENV": "production",
    "NORTHSTAR_JWT_SECRET": "j" * 40,
    "FEEDBACK_ANONYMITY_SECRET": "f" * 40,
    "NORTHSTAR_API_KEYS_SECRET": "k" * 40,
}


def compose_name(service: str) -> str:
    return service.replace("_", "-")


def resolved(compose: list[str], **env: str) -> dict[str, Any]:
    """The file as the compose tool resolves it (anchors, merges, ${VAR:-default})."""
    clean = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    done = run([*compose, "-f", "docker-compose.yml", "config"], env={**clean, **env})
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


@pytest.fixture(scope="module")
def config(compose: list[str]) -> dict[str, Any]:
    return resolved(compose)


def test_compose_file_is_valid(compose: list[str]) -> None:
    run([*compose, "-f", "docker-compose.yml", "config", "--quiet"])


def test_every_service_runs_from_the_one_image_with_its_serve_command(
    config: dict[str, Any],
) -> None:
    parser = build_parser()
    for service, port in SERVICES.items():
        spec = config["services"][compose_name(service)]
        assert spec["image"] == "northstar:local"
        assert spec["build"]["context"] == str(ROOT)
        args = parser.parse_args([str(a) for a in spec["command"]])
        assert (args.command, args.service, args.port) == ("serve", service, port)


def test_ports_healthchecks_and_scrape_targets_agree_with_each_service(
    config: dict[str, Any],
) -> None:
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    [job] = [j for j in prometheus["scrape_configs"] if j["job_name"] == "northstar"]
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    for service, port in SERVICES.items():
        name = compose_name(service)
        spec = config["services"][name]
        published = {(int(p["target"]), int(p["published"])) for p in _ports(spec["ports"])}
        assert published == {(port, port)}, service
        check = " ".join(spec["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/readyz" in check
        assert f"{name}:{port}" in targets
    assert len(targets) == len(SERVICES)


def _ports(ports: list[Any]) -> list[dict[str, Any]]:
    # docker compose prints long syntax; docker-compose 1.x keeps "ip:published:target"
    parsed = []
    for port in ports:
        if isinstance(port, dict):
            parsed.append(port)
        else:
            *_, published, target = str(port).split("/")[0].split(":")
            parsed.append({"published": published, "target": target})
    return parsed


def test_every_environment_variable_is_one_the_service_reads(config: dict[str, Any]) -> None:
    for service in SERVICES:
        env = config["services"][compose_name(service)]["environment"]
        unread = sorted(set(env) - read_by(service))
        assert not unread, f"{service} does not read {unread}"


def test_each_service_gets_the_compose_servers_from_its_settings(config: dict[str, Any]) -> None:
    for service in SERVICES:
        env = config["services"][compose_name(service)]["environment"]
        settings = load_settings(service, {k: str(v) for k, v in env.items()})
        assert settings.kafka_bootstrap_servers == "kafka:9092"
        assert settings.mongodb_uri == "mongodb://mongo:27017/?replicaSet=rs0"
        assert settings.environment == "local"
        assert env["NORTHSTAR_HOST"] == "0.0.0.0"
    notifications = config["services"]["notifications"]["environment"]
    settings = load_settings("notifications", notifications)
    assert (getattr(settings, "smtp_host", None), getattr(settings, "smtp_port", None)) == (
        "mailpit",
        1025,
    )


def test_production_mode_gets_every_secret_it_requires(compose: list[str]) -> None:
    config = resolved(compose, **SECRET_ENV)
    for service in SERVICES:
        env = config["services"][compose_name(service)]["environment"]
        settings = load_settings(service, {k: str(v) for k, v in env.items()})
        assert settings.environment == "production"
        assert settings.jwt_secret.get_secret_value() == SECRET_ENV["NORTHSTAR_JWT_SECRET"]
        # API keys are checked at the people service with the shared secret
        assert settings.api_keys_url == "http://people:8001"
        assert settings.api_keys_shared_secret() == SECRET_ENV["NORTHSTAR_API_KEYS_SECRET"]


def test_without_an_api_keys_secret_production_accepts_no_key(compose: list[str]) -> None:
    env = {k: v for k, v in SECRET_ENV.items() if k != "NORTHSTAR_API_KEYS_SECRET"}
    config = resolved(compose, **env)
    for service in SERVICES:
        env_of = config["services"][compose_name(service)]["environment"]
        settings = load_settings(service, {k: str(v) for k, v in env_of.items()})
        assert settings.api_keys_shared_secret() is None


def test_services_wait_for_healthy_dependencies_and_every_container_has_a_healthcheck(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    for name, spec in services.items():
        assert "healthcheck" in spec, f"{name} has no healthcheck"
        for dependency, condition in (spec.get("depends_on") or {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    for service in SERVICES:
        assert {"kafka", "mongo"} <= set(services[compose_name(service)]["depends_on"])
    assert "mailpit" in services["notifications"]["depends_on"]
    assert "prometheus" in services["grafana"]["depends_on"]


def test_kafka_runs_kraft_and_mongo_a_replica_set(config: dict[str, Any]) -> None:
    kafka = config["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    mongo = config["services"]["mongo"]
    assert mongo["command"][mongo["command"].index("--replSet") + 1] == "rs0"
    assert "rs.initiate" in " ".join(mongo["healthcheck"]["test"])


def test_every_image_is_pinned_to_a_version(config: dict[str, Any]) -> None:
    for name, spec in config["services"].items():
        image = spec["image"]
        if image == "northstar:local":
            continue
        tag = image.rsplit(":", 1)[-1]
        assert re.search(r"\d+\.\d+", tag), f"{name} uses {image}"


def test_prometheus_and_grafana_mount_the_repository_config(config: dict[str, Any]) -> None:
    mounts = {
        name: " ".join(str(v) for v in config["services"][name]["volumes"])
        for name in ("prometheus", "grafana")
    }
    assert "deploy/prometheus/rules" in mounts["prometheus"]
    assert "deploy/grafana/provisioning" in mounts["grafana"]
    assert "deploy/grafana/dashboards" in mounts["grafana"]


def test_every_service_exports_its_spans_to_the_trace_viewer(compose: list[str]) -> None:
    config = resolved(compose)
    jaeger = config["services"]["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/all-in-one:")
    assert {int(p["target"]) for p in _ports(jaeger["ports"])} == {16686, 4318}
    for service in SERVICES:
        env = config["services"][compose_name(service)]["environment"]
        settings = load_settings(service, {k: str(v) for k, v in env.items()})
        assert settings.otlp_endpoint == "http://jaeger:4318", service
    # an empty variable turns export off (the code's default)
    off = resolved(compose, OTEL_EXPORTER_OTLP_ENDPOINT="")
    for service in SERVICES:
        env = off["services"][compose_name(service)]["environment"]
        assert not load_settings(service, {k: str(v) for k, v in env.items()}).otlp_endpoint
