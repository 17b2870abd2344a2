"""Acceptance: scim2-tester (through scim2-cli) passes against the running service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from deploy.local.servers import free_port
from tests.support import KAFKA, MONGODB_URI, unique

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


@pytest.fixture
def service() -> Iterator[tuple[str, dict[str, str]]]:
    run_id = unique()
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "MONGODB_URI": MONGODB_URI,
        "NORTHSTAR_TOPIC_PREFIX": f"t{run_id}.",
        "NORTHSTAR_TOPIC_PARTITIONS": "1",
        "PEOPLE_MONGODB_DATABASE": f"t{run_id}_people",
    }
    process = subprocess.Popen(
        [str(BIN / "northstar"), "serve", "people", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the people service exited at start-up"
            time.sleep(0.3)
        else:
            raise AssertionError("the people service did not become ready")
        issued = subprocess.run(
            [str(BIN / "northstar"), "scim-token", "--tenant", "acme"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = issued.stdout.strip().splitlines()[-1]
        yield url, {**env, "SCIM_CLI_HEADERS": f"Authorization: Bearer {token}"}
    finally:
        process.terminate()
        process.wait(15)
        MongoClient(MONGODB_URI).drop_database(env["PEOPLE_MONGODB_DATABASE"])


def test_scim2_tester_passes_with_zero_failures(
    service: tuple[str, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, env = service
    token = env.pop("SCIM_CLI_HEADERS").split("Bearer ", 1)[1]
    result = subprocess.run(
        [
            str(BIN / "scim2"),
            "-u",
            f"{url}/scim/v2",
            "-h",
            f"Authorization: Bearer {token}",
            "test",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    statuses = re.findall(r"^([A-Z_]+) \S", result.stdout, flags=re.MULTILINE)
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    with capsys.disabled():
        print(f"\nscim2-tester: {counts}")
    failures = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert failures == [], result.stdout
    assert counts.get("SUCCESS", 0) >= 100, result.stdout
    assert set(counts) == {"SUCCESS"}, counts
    assert result.returncode == 0, result.stdout + result.stderr
