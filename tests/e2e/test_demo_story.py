"""End to end: the `make demo` story on all five services run as real processes.

HTTP in at one service, observable effects at the others: SCIM provisioning reaches every
projection, signed webhooks move a goal, celebrations land in inboxes and in a real SMTP sink,
feedback flows, a manager change reopens the goal for review.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local import demo
from deploy.local.servers import Process, free_port
from deploy.local.stack import SERVICES, start_services, stop
from tests.support import KAFKA, MONGODB_URI, unique

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    run = unique()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "MONGODB_URI": MONGODB_URI,
        "NORTHSTAR_TOPIC_PREFIX": f"t{run}.",
        "NORTHSTAR_TOPIC_PARTITIONS": "2",
        "NOTIFICATIONS_WORKER_POLL_INTERVAL_S": "0.2",
        **{
            f"{prefix}_MONGODB_DATABASE": f"t{run}_{name}"
            for name, prefix in [
                ("web", "WEB"),
                ("people", "PEOPLE"),
                ("goals", "GOALS"),
                ("feedback", "FEEDBACK"),
                ("kpi_ingest", "KPI"),
                ("notifications", "NOTIFICATIONS"),
                ("reviews", "REVIEWS"),
            ]
        },
    }
    # `northstar scim-token`, run by the story, must write into this run's people database
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NOTIFICATIONS_SMTP_HOST", raising=False)
    ports = {name: free_port() for name in [*SERVICES, "mailsink"]}
    processes = start_services(tmp_path, env, ports)
    try:
        yield ports
    finally:
        stop([*processes, Process("mailsink", tmp_path / "pids" / "mailsink.pid")])
        _drop_databases(env)


def _drop_databases(env: dict[str, str]) -> None:
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(MONGODB_URI)
    try:
        for name, value in env.items():
            if name.endswith("_MONGODB_DATABASE"):
                client.drop_database(value)
    finally:
        client.close()


def test_the_demo_story_passes_end_to_end(
    stack: dict[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ports = ",".join(str(stack[name]) for name in demo.SERVICES)
    code = demo.main(
        [
            "--ports",
            ports,
            "--web-port",
            str(stack["web"]),
            "--maildir",
            str(tmp_path / "mail"),
            "--timeout",
            "30",
        ]
    )
    output = capsys.readouterr().out
    assert code == 0, output
    assert "14 passed, 0 failed" in output
    # the story ends with one-time sign-in links for the cast, and they sign a browser in
    links = re.findall(r"^  (employee|manager|mentor|HR admin) +(http\S+)$", output, re.M)
    assert [role for role, _ in links] == ["employee", "manager", "mentor", "HR admin"]
    with httpx.Client(base_url=f"http://127.0.0.1:{stack['web']}") as browser:
        signed_in = browser.get(links[0][1], follow_redirects=True)
        assert signed_in.status_code == 200
        assert "Priya Shah" in signed_in.text
