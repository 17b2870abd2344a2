"""The dashboard ``/`` of a person with 50 goals, beside the same page's API calls made directly.

Run: ``.venv/bin/python -m tests.bench.bench_web`` against the stack of ``make up`` (web on 8000);
``make bench`` runs it with the rest. A fresh tenant gets one person over SCIM with ``--goals``
active goals; a one-time login URL (``northstar login-url``) signs an HTTP client in. Then,
one request at a time, ``--requests`` times each:

- the page: ``GET /`` through web (session lookup, the API calls, templates);
- its ceiling: the calls the page makes, made directly and concurrently as the page does
  (goals list, open feedback requests, unread inbox items; the inbox answer carries the
  header's unread count).

``--own-stack`` starts web and the services on free ports instead (their own topics and
databases, removed afterwards: the browser tests' harness), for a machine where ``make up`` is not
running or its ports are taken.

Both are timed from this process over loopback (client-side latency, which includes the server
time). The ratio is the APIs' p95 over the page's: the share of its ceiling the page reaches
(1.0 would mean rendering and the session cost nothing on top of the calls).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.bench.e2e_latency import BenchFailed, Run, percentiles, provision

URLS = {
    "web": "http://127.0.0.1:8000",
    "people": "http://127.0.0.1:8001",
    "goals": "http://127.0.0.1:8002",
    "feedback": "http://127.0.0.1:8003",
    "notifications": "http://127.0.0.1:8005",
}


async def create_goals(run: Run, owner: str, count: int) -> None:
    today = date.today()
    for n in range(count):
        body = {
            "title": f"Bench goal {n}",
            "horizon": "short_term" if n % 2 else "long_term",
            "category": "outcome",
            "status": "active",
            "start_date": str(today - timedelta(days=30)),
            "due_date": str(today + timedelta(days=60)),
            "key_results": [{"id": "kr", "title": "Progress", "start": 0, "target": 100}],
        }
        await run.call("POST", f"{URLS['goals']}/v1/goals", "owner", 201, json=body)


async def sign_in(http: httpx.AsyncClient, tenant: str, person: str) -> None:
    northstar = str(Path(sys.executable).with_name("northstar"))
    minted = await asyncio.create_subprocess_exec(
        northstar, "login-url", "--tenant", tenant, "--sub", person, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(minted.communicate(), 60)
    if minted.returncode != 0:
        raise BenchFailed(f"northstar login-url exited with {minted.returncode}")
    url = stdout.decode().strip().splitlines()[-1]
    signed = await http.get(url, follow_redirects=True)
    if signed.status_code != 200 or not http.cookies:
        raise BenchFailed(f"the login URL answered {signed.status_code}")


async def page_once(http: httpx.AsyncClient) -> float:
    started = time.perf_counter()
    response = await http.get(f"{URLS['web']}/")
    took = time.perf_counter() - started
    if response.status_code != 200 or "Bench goal 49" not in response.text:
        raise BenchFailed(f"GET / answered {response.status_code} without the goals")
    return took


async def apis_once(run: Run, owner: str) -> float:
    """What the dashboard asks of the services, made directly and concurrently."""
    headers = run.tokens["owner"]
    started = time.perf_counter()
    answers = await asyncio.gather(
        run.http.get(
            f"{URLS['goals']}/v1/goals",
            params={"owner_id": owner, "limit": 100},
            headers=headers,
        ),
        run.http.get(
            f"{URLS['feedback']}/v1/feedback-requests",
            params={"assigned_to": "me", "status": "open"},
            headers=headers,
        ),
        run.http.get(
            f"{URLS['notifications']}/v1/inbox",
            params={"unread": "true", "limit": 5},
            headers=headers,
        ),
    )
    took = time.perf_counter() - started
    if any(a.status_code != 200 for a in answers):
        raise BenchFailed(f"API answers {[a.status_code for a in answers]}")
    return took


async def run_bench(goals: int, requests: int) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http, httpx.AsyncClient(timeout=30) as browser:
        run = Run(urls=URLS, tenant=f"bench-web-{uuid.uuid4().hex[:8]}", http=http)
        owner = await provision(run)
        await create_goals(run, owner, goals)
        await sign_in(browser, run.tenant, owner)
        for _ in range(10):  # warm-up: connections, template cache
            await page_once(browser)
            await apis_once(run, owner)
        page: list[float] = []
        apis: list[float] = []
        for _ in range(requests):  # alternate, so both see the same background
            page.append(await page_once(browser))
            apis.append(await apis_once(run, owner))
    page_p = percentiles(page)
    apis_p = percentiles(apis)
    ratio = (
        round(float(apis_p["p95_ms"]) / float(page_p["p95_ms"]), 2)
        if page_p["p95_ms"] and apis_p["p95_ms"]
        else None
    )
    return {"goals": goals, "requests": requests, "page": page_p, "apis": apis_p, "ratio": ratio}


@contextlib.contextmanager
def own_stack() -> Iterator[None]:
    """Web and the services as processes on free ports; URLS and the environment the
    ``northstar`` commands read (databases, web's address) point at them meanwhile."""
    from tests.browser.harness import start_stack, stop_stack

    with tempfile.TemporaryDirectory(prefix="bench-web-") as state:
        stack = start_stack(Path(state))
        saved_urls, saved_env = dict(URLS), dict(os.environ)
        try:
            URLS.update({name: stack.url(name) for name in URLS})
            os.environ.update({**stack.env, "WEB_PUBLIC_URL": stack.web_url})
            yield
        finally:
            URLS.clear()
            URLS.update(saved_urls)
            os.environ.clear()
            os.environ.update(saved_env)
            stop_stack(stack)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--goals", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("bench-results/web.json"))
    parser.add_argument(
        "--own-stack",
        action="store_true",
        help="start web and the services on free ports (not make up's) and stop them after",
    )
    args = parser.parse_args(argv)
    with own_stack() if args.own_stack else contextlib.nullcontext():
        try:
            result = asyncio.run(run_bench(args.goals, args.requests))
        except BenchFailed as failed:
            print(f"bench_web failed: {failed}", file=sys.stderr)
            return 1
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    page, apis = result["page"], result["apis"]
    print(
        f"GET / with {result['goals']} goals: p50 {page['p50_ms']} ms, p95 {page['p95_ms']} ms, "
        f"p99 {page['p99_ms']} ms; its API calls made directly: p50 {apis['p50_ms']} ms, "
        f"p95 {apis['p95_ms']} ms; ratio (API p95 / page p95) {result['ratio']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
