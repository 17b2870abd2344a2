"""Both kustomize overlays render, validate against the Kubernetes schemas, and match the code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared.cli import SERVICES, build_parser
from shared.events import topics
from tests.unit.deploy.conftest import ROOT, run
from tests.unit.deploy.settings_env import load_settings, read_by

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.37.0"
OVERLAYS = ("dev", "prod")
# Custom resources: kubernetes-validate ships no schema for them and no registry package here
# ships theirs, so they are NOT checked against a CRD schema; the tests below check their fields.
UNCHECKED_CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
}
PROD_SECRETS = {
    "mongodb-uri": "mongodb://mongo-0.mongo:27017,mongo-1.mongo:27017/?replicaSet=rs0",
    "jwt-secret": "j" * 40,
    "feedback-anonymity-secret": "f" * 40,
    "smtp-password": "s3cret",
    "web-oidc-client-secret": "oidc-client-secret",
    "web-api-signing-key": "-----BEGIN PRIVATE KEY-----",
}
Objects = list[dict[str, Any]]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest, tool: Callable[[str], str]) -> tuple[str, Objects]:
    out = run([tool("kustomize"), "build", str(K8S / "overlays" / request.param)]).stdout
    return request.param, [doc for doc in yaml.safe_load_all(out) if doc]


def of_kind(objects: Objects, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def k8s_name(service: str) -> str:
    return service.replace("_", "-")


def test_every_rendered_object_validates_against_the_kubernetes_schemas(
    rendered: tuple[str, Objects],
) -> None:
    _, objects = rendered
    unchecked = set()
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in UNCHECKED_CRDS:
            unchecked.add((obj["apiVersion"], obj["kind"]))
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc}")
    assert unchecked == UNCHECKED_CRDS


def test_each_service_has_deployment_service_autoscaler_budget_and_ingress_policy(
    rendered: tuple[str, Objects],
) -> None:
    overlay, objects = rendered
    deployments = of_kind(objects, "Deployment")
    services = of_kind(objects, "Service")
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    pdbs = of_kind(objects, "PodDisruptionBudget")
    policies = of_kind(objects, "NetworkPolicy")
    assert set(deployments) == {k8s_name(s) for s in SERVICES}
    parser = build_parser()
    for service, port in SERVICES.items():
        name = k8s_name(service)
        pod = deployments[name]["spec"]["template"]["spec"]
        [container] = pod["containers"]
        args = parser.parse_args(container["args"])
        assert (args.command, args.service, args.port) == ("serve", service, port)
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] >= 1000
        labels = deployments[name]["spec"]["selector"]["matchLabels"]
        assert services[name]["spec"]["selector"] == labels
        assert services[name]["spec"]["ports"][0]["port"] == port
        assert hpas[name]["spec"]["scaleTargetRef"]["name"] == name
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == labels
        ingress_policy = policies[f"{name}-ingress"]
        assert ingress_policy["spec"]["podSelector"]["matchLabels"] == labels
        assert ingress_policy["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": port}]
        expected = 1 if overlay == "dev" else 3
        assert deployments[name]["spec"]["replicas"] == expected
        assert hpas[name]["spec"]["minReplicas"] == expected


def test_network_policies_start_from_deny_all(rendered: tuple[str, Objects]) -> None:
    _, objects = rendered
    deny = of_kind(objects, "NetworkPolicy")["default-deny-all"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress = of_kind(objects, "NetworkPolicy")["northstar-egress"]["spec"]["egress"]
    ports = {p["port"] for rule in egress for p in rule["ports"]}
    assert {9092, 27017} <= ports


def _container_env(
    objects: Objects, deployment: dict[str, Any], secrets: dict[str, str]
) -> dict[str, str]:
    config_maps = of_kind(objects, "ConfigMap")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            assert ref["name"].startswith("northstar-secrets")
            if ref.get("optional") and ref["key"] not in secrets:
                continue  # an optional secret the overlay does not set (web's, in dev)
            env[var["name"]] = secrets[ref["key"]]
    return env


def test_every_environment_variable_is_read_and_the_settings_load(
    rendered: tuple[str, Objects],
) -> None:
    overlay, objects = rendered
    secrets = PROD_SECRETS
    if overlay == "dev":
        [secret] = of_kind(objects, "Secret").values()
        import base64

        secrets = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    deployments = of_kind(objects, "Deployment")
    for service in SERVICES:
        env = _container_env(objects, deployments[k8s_name(service)], secrets)
        unread = sorted(set(env) - read_by(service))
        assert not unread, f"{service} does not read {unread}"
        settings = load_settings(service, env)
        assert settings.environment == ("local" if overlay == "dev" else "production")
        assert settings.kafka_bootstrap_servers.endswith(":9092")
        assert "replicaSet=" in settings.mongodb_uri
        assert env["NORTHSTAR_HOST"] == "0.0.0.0"


def test_ingress_routes_each_api_prefix_to_the_service_that_owns_it(
    rendered: tuple[str, Objects],
) -> None:
    _, objects = rendered
    [ingress] = of_kind(objects, "Ingress").values()
    services = of_kind(objects, "Service")
    routes = {
        p["path"]: p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert set(routes.values()) == {k8s_name(s) for s in SERVICES}
    assert set(routes.values()) <= set(services)
    assert routes["/scim/v2"] == "people"
    assert routes["/v1/people"] == "people"
    assert routes["/v1/people/[^/]+/goals"] == "goals"
    assert routes["/v1/people/[^/]+/feedback"] == "feedback"
    assert routes["/v1/webhooks"] == "kpi-ingest"
    assert routes["/v1/inbox"] == "notifications"
    assert not [path for path in routes if path.startswith(("/metrics", "/healthz", "/readyz"))]


def test_kafka_topics_cover_every_stream_and_dead_letter_twin(
    rendered: tuple[str, Objects],
) -> None:
    overlay, objects = rendered
    kafka_topics = {t["spec"]["topicName"]: t for t in of_kind(objects, "KafkaTopic").values()}
    assert set(kafka_topics) == set(topics.ALL) | {topics.dlq(t) for t in topics.ALL}
    for name, topic in kafka_topics.items():
        spec = topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "northstar"
        if overlay == "prod":
            assert (spec["replicas"], spec["config"]["min.insync.replicas"]) == (3, 2), name
            assert spec["partitions"] >= 12
        compacted = spec["config"].get("cleanup.policy") == "compact"
        assert compacted == (name in topics.COMPACTED), name


def test_monitoring_resources_select_the_services_and_carry_the_alert_rules(
    rendered: tuple[str, Objects],
) -> None:
    _, objects = rendered
    [monitor] = of_kind(objects, "ServiceMonitor").values()
    services = of_kind(objects, "Service")
    selector = monitor["spec"]["selector"]["matchLabels"]
    for name in (k8s_name(s) for s in SERVICES):
        labels = services[name]["metadata"]["labels"]
        assert selector.items() <= labels.items()
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    [rule] = of_kind(objects, "PrometheusRule").values()
    rules_file = yaml.safe_load(
        (ROOT / "deploy" / "prometheus" / "rules" / "northstar.rules.yml").read_text()
    )
    assert rule["spec"]["groups"] == rules_file["groups"]


def test_production_secrets_are_referenced_not_committed(tool: Callable[[str], str]) -> None:
    out = run([tool("kustomize"), "build", str(K8S / "overlays" / "prod")]).stdout
    kinds = [doc["kind"] for doc in yaml.safe_load_all(out) if doc]
    assert "Secret" not in kinds


def _selects(peer: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = peer.get("podSelector", {}).get("matchLabels")
    return (
        selector is not None
        and "namespaceSelector" not in peer
        and selector.items() <= labels.items()
    )


def test_the_services_may_fetch_webs_jwks_when_they_trust_its_rs256_tokens(
    rendered: tuple[str, Objects],
) -> None:
    # docs/web.md's recommended production set-up: NORTHSTAR_JWT_JWKS_URL points at web:8000,
    # an in-cluster address the HTTPS-out rule (private ranges excluded) does not cover
    _, objects = rendered
    policies = of_kind(objects, "NetworkPolicy")
    deployments = of_kind(objects, "Deployment")
    web_labels = deployments["web"]["spec"]["template"]["metadata"]["labels"]
    for service in SERVICES:
        if service == "web":
            continue
        labels = deployments[k8s_name(service)]["spec"]["template"]["metadata"]["labels"]
        egress_ok = any(
            _selects({"podSelector": p["spec"]["podSelector"]}, labels)
            and any(
                any(_selects(peer, web_labels) for peer in rule.get("to", []))
                and {"protocol": "TCP", "port": 8000} in rule.get("ports", [])
                for rule in p["spec"].get("egress", [])
            )
            for p in policies.values()
        )
        ingress_ok = any(
            _selects({"podSelector": p["spec"]["podSelector"]}, web_labels)
            and any(
                any(_selects(peer, labels) for peer in rule.get("from", []))
                and {"protocol": "TCP", "port": 8000} in rule.get("ports", [])
                for rule in p["spec"].get("ingress", [])
            )
            for p in policies.values()
        )
        assert egress_ok, f"{service} may not reach web:8000"
        assert ingress_ok, f"web does not admit {service} on 8000"


def test_goals_and_kpi_ingest_may_introspect_api_keys_at_people(
    rendered: tuple[str, Objects],
) -> None:
    # NORTHSTAR_API_KEYS_URL is people:8001 (docs/people.md#api-keys): both policies must allow it
    _, objects = rendered
    policies = of_kind(objects, "NetworkPolicy")
    deployments = of_kind(objects, "Deployment")
    people = deployments["people"]["spec"]["template"]["metadata"]["labels"]
    port = {"protocol": "TCP", "port": 8001}
    for service in ("goals", "kpi-ingest"):
        labels = deployments[service]["spec"]["template"]["metadata"]["labels"]
        egress_ok = any(
            _selects({"podSelector": p["spec"]["podSelector"]}, labels)
            and any(
                any(_selects(peer, people) for peer in rule.get("to", []))
                and port in rule.get("ports", [])
                for rule in p["spec"].get("egress", [])
            )
            for p in policies.values()
        )
        ingress_ok = any(
            _selects({"podSelector": p["spec"]["podSelector"]}, people)
            and any(
                any(_selects(peer, labels) for peer in rule.get("from", []))
                and port in rule.get("ports", [])
                for rule in p["spec"].get("ingress", [])
            )
            for p in policies.values()
        )
        assert egress_ok, f"{service} may not reach people:8001"
        assert ingress_ok, f"people does not admit {service} on 8001"
        container = deployments[service]["spec"]["template"]["spec"]["containers"][0]
        secrets = {e["name"]: e.get("valueFrom") for e in container.get("env", [])}
        assert secrets["NORTHSTAR_API_KEYS_SECRET"]["secretKeyRef"]["key"] == "api-keys-secret"
