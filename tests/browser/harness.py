"""The real stack for browser tests: every service and web as processes, a provisioned team.

Used by ``conftest.py``; page authors use its fixtures (see the module docstring there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from deploy.local.servers import Process, free_port
from deploy.local.stack import SERVICES, start_services, stop
from services.web.sessions import Identity, login_link
from shared.auth import issue_local_token
from shared.config import CommonSettings
from shared.webhooks import signed_headers
from tests.support import KAFKA, MONGODB_URI, unique

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DATABASE_PREFIXES = {
    "web": "WEB",
    "people": "PEOPLE",
    "goals": "GOALS",
    "feedback": "FEEDBACK",
    "kpi_ingest": "KPI",
    "notifications": "NOTIFICATIONS",
    "reviews": "REVIEWS",
}


@dataclass
class Stack:
    """The running stack: ``url("goals")``, ``web_url``, and the env its processes share."""

    ports: dict[str, int]
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def web_url(self) -> str:
        return self.url("web")

    @property
    def web_database(self) -> str:
        return self.env["WEB_MONGODB_DATABASE"]


def start_stack(state_dir: Path) -> Stack:
    run = unique()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "MONGODB_URI": MONGODB_URI,
        "NORTHSTAR_TOPIC_PREFIX": f"t{run}.",
        "NORTHSTAR_TOPIC_PARTITIONS": "2",
        "NORTHSTAR_LOG_LEVEL": "WARNING",
        "NOTIFICATIONS_WORKER_POLL_INTERVAL_S": "0.2",
        "NOTIFICATIONS_SSE_POLL_INTERVAL_S": "0.3",
        "WEB_LIVE_POLL_INTERVAL_S": "0.3",
        # a revoked API key is refused within a second
        "NORTHSTAR_API_KEYS_CACHE_TTL_S": "1",
        **{
            f"{prefix}_MONGODB_DATABASE": f"t{run}_{name}"
            for name, prefix in DATABASE_PREFIXES.items()
        },
    }
    ports = {name: free_port() for name in [*SERVICES, "mailsink"]}
    env["NOTIFICATIONS_APP_URL"] = f"http://127.0.0.1:{ports['web']}"
    pids = state_dir / "pids"
    try:
        processes = start_services(state_dir, env, ports)
    except BaseException:
        # one service did not get ready: stop those that did start (their pid files say which)
        stop([Process(name, pids / f"{name}.pid") for name in ports])
        raise
    processes.append(Process("mailsink", pids / "mailsink.pid"))
    return Stack(ports=ports, env=env, processes=processes)


def stop_stack(stack: Stack) -> None:
    stop(stack.processes)
    client: MongoClient[dict[str, Any]] = MongoClient(MONGODB_URI)
    try:
        for name, value in stack.env.items():
            if name.endswith("_MONGODB_DATABASE"):
                client.drop_database(value)
    finally:
        client.close()


def login_url(stack: Stack, tenant: str, person_id: str, *roles: str, next_url: str = "") -> str:
    """What ``northstar login-url`` prints, written straight into this stack's web database."""
    identity = Identity(tenant=tenant, person_id=person_id, roles=list(roles) or ["employee"])
    token, document = login_link(identity, timedelta(minutes=5))
    client: MongoClient[dict[str, Any]] = MongoClient(MONGODB_URI)
    try:
        client[stack.web_database]["login_links"].insert_one(document)
    finally:
        client.close()
    return f"{stack.web_url}/login/link/{token}" + (f"?next={next_url}" if next_url else "")


def bearer(tenant: str, person_id: str, *roles: str) -> dict[str, str]:
    token = issue_local_token(
        CommonSettings(), tenant=tenant, sub=person_id, roles=list(roles) or ["employee"]
    )
    return {"Authorization": f"Bearer {token}"}


# the people of a provisioned team: role in the story -> (display name, title, manager role)
CAST = {
    "employee": ("Priya Shah", "Product Manager", "manager"),
    "manager": ("Morgan Lee", "Director of Product", None),
    "mentor": ("Ines Okafor", "VP Product", None),
    "hr": ("Harper Reyes", "HR Business Partner", None),
}


@dataclass
class Team:
    """A tenant provisioned over SCIM: ``ids["employee"]``, ``emails[...]``, ``headers(role)``."""

    tenant: str
    ids: dict[str, str]
    emails: dict[str, str]
    scim: dict[str, str]

    def roles(self, who: str) -> list[str]:
        return ["employee", "hr_admin"] if who == "hr" else ["employee"]

    def headers(self, who: str, *roles: str) -> dict[str, str]:
        return bearer(self.tenant, self.ids[who], *(roles or self.roles(who)))


def provision_team(stack: Stack, tenant: str | None = None) -> Team:
    """Employee (reporting to the manager), manager, mentor (paired) and HR admin, over SCIM."""
    tenant = tenant or f"acme-{uuid.uuid4().hex[:6]}"
    scim_token = (
        subprocess.run(
            [str(Path(sys.executable).with_name("northstar")), "scim-token", "--tenant", tenant],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, **stack.env},
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    scim = {"Authorization": f"Bearer {scim_token}", "content-type": "application/scim+json"}
    ids: dict[str, str] = {}
    emails: dict[str, str] = {}
    with httpx.Client(timeout=15) as http:
        for role, (name, title, manager) in _managers_first():
            given, family = name.split(" ", 1)
            email = f"{given.lower()}.{family.lower()}@{tenant}.example"
            body: dict[str, Any] = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "userName": email,
                "name": {"givenName": given, "familyName": family},
                "displayName": name,
                "title": title,
                "active": True,
                "timezone": "Europe/London",
                "emails": [{"value": email, "type": "work", "primary": True}],
                ENTERPRISE: {"department": "Product"},
            }
            if manager:
                body[ENTERPRISE]["manager"] = {"value": ids[manager]}
            created = http.post(f"{stack.url('people')}/scim/v2/Users", headers=scim, json=body)
            created.raise_for_status()
            ids[role], emails[role] = created.json()["id"], email
        team = Team(tenant=tenant, ids=ids, emails=emails, scim=scim)
        http.post(
            f"{stack.url('people')}/v1/mentorships",
            headers=team.headers("hr"),
            json={"mentor_id": ids["mentor"], "mentee_id": ids["employee"]},
        ).raise_for_status()
    return team


def _managers_first() -> list[tuple[str, tuple[str, str, str | None]]]:
    return sorted(CAST.items(), key=lambda item: item[1][2] is not None)


def create_kpi_source(stack: Stack, team: Team) -> dict[str, Any]:
    """A generic webhook source (its answer holds the ``whsec_`` secret)."""
    with httpx.Client(timeout=15) as http:
        response = http.post(
            f"{stack.url('kpi_ingest')}/v1/sources",
            headers=team.headers("hr", "admin"),
            json={"name": f"Nightly KPI script {unique()}", "format": "generic", "mapping": {}},
        )
        response.raise_for_status()
        source: dict[str, Any] = response.json()
        return source


def push_kpi(
    stack: Stack, source: dict[str, Any], metric: str, value: float, **dimensions: str
) -> None:
    """One signed (Standard Webhooks) data point, as an analytics script sends it."""
    body = json.dumps(
        {
            "datapoints": [
                {
                    "id": f"point-{uuid.uuid4().hex[:8]}",
                    "metric": metric,
                    "value": value,
                    "timestamp": datetime.now(UTC).isoformat(),
                    "dimensions": dimensions,
                }
            ]
        }
    )
    headers = {**signed_headers(source["secret"], body), "content-type": "application/json"}
    with httpx.Client(timeout=15) as http:
        response = http.post(
            f"{stack.url('kpi_ingest')}/v1/webhooks/{source['id']}", content=body, headers=headers
        )
        assert response.status_code == 202, response.text
