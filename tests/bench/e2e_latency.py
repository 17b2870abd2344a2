"""End-to-end latency at a fixed arrival rate: webhook 202 → goal progress → inbox item.

Run: ``.venv/bin/python -m tests.bench.e2e_latency`` against the stack of ``make up``. It prints
its numbers and writes ``bench-results/e2e_latency.json``; ``make bench`` runs it with the rest.

A fresh tenant is provisioned over SCIM (one owner), an admin turns celebration emails off for
the tenant (the SMTP sink is not what is measured), connects a signed generic KPI source, and the
owner creates ``--goals`` active goals, each with one key result bound to ``adoption_rate`` with
the filter ``{"bench_goal": "<g>"}``, start 0, target ``--steps``, aggregation ``latest``.
Point ``k`` says ``adoption_rate{bench_goal=g} = s`` (g = k div steps, s = k mod steps + 1): it
moves goal g to s/steps, which crosses exactly one milestone, so every point yields both a
``goal.progress_updated`` and a celebration in the owner's inbox.

The load generator is open loop: every send time is fixed in advance (``k / rate``) and each
request is an asyncio task fired at its time, whatever the earlier ones are doing. Arrivals:
- goal progress: a consumer without a group, assigned every partition of the goals topic at its
  end before the first send, matches ``goal.progress_updated`` by ``cause.datapoint_id``, the
  point's deterministic id ``deterministic_id(source_id, point id, metric)``;
- inbox item: the owner's ``GET /v1/inbox/stream`` (SSE). With one notifications replica the
  in-process hub pushes an item the moment it is written; the store poll
  (``NOTIFICATIONS_SSE_POLL_INTERVAL_S``, 2 s) only covers other replicas' writes.
Every clock is ``time.perf_counter`` in this one process; what limits the resolution is this
process's event loop, whose lag is measured and reported beside the percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.bench.sse import inbox_items

REPO = Path(__file__).resolve().parents[2]
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
METRIC = "adoption_rate"
SERVICES = ("people", "goals", "feedback", "kpi_ingest", "notifications")
PROGRESS = "northstar.goal.progress_updated.v1"


class BenchFailed(Exception):
    pass


@dataclass
class Point:
    k: int
    goal: int
    step: int
    event_id: str
    datapoint_id: str
    body: bytes
    headers: dict[str, str]
    scheduled: float = 0.0
    sent: float | None = None
    accepted: float | None = None  # the 202 arrived
    status: int | None = None
    progress: float | None = None  # goal.progress_updated consumed
    inbox: float | None = None  # the celebration reached the SSE stream


@dataclass
class Run:
    urls: dict[str, str]
    tenant: str
    http: httpx.AsyncClient
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    goal_ids: list[str] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    loop_lag: list[float] = field(default_factory=list)

    async def call(self, method: str, url: str, who: str | None, expect: int, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if who:
            headers.update(self.tokens[who])
        response = await self.http.request(method, url, headers=headers, **kw)
        if response.status_code != expect:
            raise BenchFailed(f"{method} {url} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None


# ------------------------------------------------------------------ setup


async def provision(run: Run) -> str:
    """One owner over SCIM; returns the person id."""
    from shared.auth import issue_local_token
    from shared.config import CommonSettings

    northstar = str(Path(sys.executable).with_name("northstar"))
    minted = await asyncio.create_subprocess_exec(
        northstar,
        "scim-token",
        "--tenant",
        run.tenant,
        "--name",
        "bench",
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(minted.communicate(), 60)
    if minted.returncode != 0:
        raise BenchFailed(f"northstar scim-token exited with {minted.returncode}")
    scim = {
        "Authorization": f"Bearer {stdout.decode().strip().splitlines()[-1]}",
        "content-type": "application/scim+json",
    }
    user_name = f"owner@{run.tenant}.example"
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Bench", "familyName": "Owner"},
        "displayName": "Bench Owner",
        "active": True,
        "timezone": "Europe/London",
        "emails": [{"value": user_name, "type": "work", "primary": True}],
    }
    created = await run.call(
        "POST", f"{run.urls['people']}/scim/v2/Users", None, 201, headers=scim, json=body
    )
    owner = str(created["id"])
    settings = CommonSettings()

    def bearer(*roles: str) -> dict[str, str]:
        token = issue_local_token(settings, tenant=run.tenant, sub=owner, roles=list(roles))
        return {"Authorization": f"Bearer {token}"}

    run.tokens = {"owner": bearer("employee"), "admin": bearer("admin")}
    return owner


async def eventually(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except (BenchFailed, httpx.HTTPError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.25)
    raise BenchFailed(f"timed out waiting for {what} (last: {last!r})"[:400])


async def set_up(run: Run, goals: int, steps: int) -> tuple[str, str]:
    """Tenant, quiet channels, the KPI source and the goals; returns (source id, secret)."""
    await provision(run)
    notifications = run.urls["notifications"]
    await run.call(
        "PUT",
        f"{notifications}/v1/preferences/defaults",
        "admin",
        200,
        json={"channels": {"celebration": {"email": "off", "slack": "off"}}, "locked": []},
    )
    source = await run.call(
        "POST",
        f"{run.urls['kpi_ingest']}/v1/sources",
        "admin",
        201,
        json={"name": "bench e2e", "format": "generic", "mapping": {}},
    )

    async def welcomed() -> bool:
        page = await run.call("GET", f"{notifications}/v1/inbox", "owner", 200)
        return any(i["category"] == "welcome" for i in page["items"])

    # notifications and goals learn the person from events: both must know the owner first
    await eventually("the owner's welcome (notifications knows the owner)", welcomed)
    for g in range(goals):
        body = {
            "title": f"Bench goal {g}",
            "horizon": "short_term",
            "status": "active",
            "due_date": str(date.today() + timedelta(days=90)),
            "key_results": [
                {
                    "title": f"adoption of bench goal {g}",
                    "start": 0,
                    "target": steps,
                    "source": {
                        "kpi": {
                            "metric": METRIC,
                            "filters": {"bench_goal": str(g)},
                            "aggregation": "latest",
                        }
                    },
                }
            ],
        }

        async def create(body: dict[str, Any] = body) -> Any:
            return await run.call("POST", f"{run.urls['goals']}/v1/goals", "owner", 201, json=body)

        created = await (create() if run.goal_ids else eventually("the first goal", create))
        run.goal_ids.append(created["id"])
    return str(source["id"]), str(source["secret"])


def prepare(run: Run, source_id: str, secret: str, goals: int, steps: int) -> None:
    """Every request signed before the clock starts, so signing costs nothing on schedule."""
    from shared.events import deterministic_id
    from shared.webhooks import signed_headers

    now = datetime.now(UTC)
    for k in range(goals * steps):
        goal, step = k // steps, k % steps + 1
        event_id = f"bench-{goal}-{step}"
        body = orjson.dumps(
            {
                "datapoints": [
                    {
                        "id": event_id,
                        "metric": METRIC,
                        "value": step,
                        "timestamp": (now + timedelta(milliseconds=k)).isoformat(),
                        "dimensions": {"bench_goal": str(goal)},
                    }
                ]
            }
        )
        headers = {**signed_headers(secret, body, at=now), "content-type": "application/json"}
        point_id = deterministic_id(source_id, event_id, METRIC)
        run.points.append(Point(k, goal, step, event_id, point_id, body, headers))


# ------------------------------------------------------------------ observers


async def goals_topic_consumer(ready: asyncio.Event) -> Any:
    from shared.config import CommonSettings
    from shared.events import topics
    from tests.bench.load.observe import goals_topic

    topic = CommonSettings().topic(topics.GOALS)
    try:
        consumer = await goals_topic(KAFKA, topic)
    except RuntimeError as exc:
        raise BenchFailed(str(exc)) from exc
    ready.set()
    return consumer


async def watch_progress(consumer: Any, run: Run, stop: asyncio.Event) -> None:
    by_id = {p.datapoint_id: p for p in run.points}
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=100)
        now = time.perf_counter()
        for records in batches.values():
            for record in records:
                headers = {k: v.decode() for k, v in record.headers}
                if headers.get("ce_type") != PROGRESS or headers.get("ce_tenant") != run.tenant:
                    continue
                cause = orjson.loads(record.value).get("cause") or {}
                point = by_id.get(cause.get("datapoint_id") or "")
                if point is not None and point.progress is None:
                    point.progress = now


async def watch_inbox(run: Run, steps: int, ready: asyncio.Event, stop: asyncio.Event) -> None:
    """The owner's SSE stream; the first celebration of (goal, step) is that point's arrival."""
    goal_index = {goal_id: g for g, goal_id in enumerate(run.goal_ids)}
    url = f"{run.urls['notifications']}/v1/inbox/stream"
    timeout = httpx.Timeout(10.0, read=None)
    async with run.http.stream("GET", url, headers=run.tokens["owner"], timeout=timeout) as resp:
        if resp.status_code != 200:
            raise BenchFailed(f"inbox stream answered {resp.status_code}")
        ready.set()
        async for now, _, item in inbox_items(resp, stop):
            data = item.get("data") or {}
            g = goal_index.get(str(data.get("goal_id")))
            if item.get("category") != "celebration" or g is None:
                continue
            milestone = data.get("milestone")
            step = round(float(milestone) * steps) if milestone else steps
            if 1 <= step <= steps:
                point = run.points[g * steps + step - 1]
                if point.inbox is None:
                    point.inbox = now


async def lag_probe(run: Run, stop: asyncio.Event, every: float = 0.01) -> None:
    """How late this process's event loop wakes up: the resolution of every timestamp here."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(every)
        run.loop_lag.append(time.perf_counter() - before - every)


async def handler_seconds(run: Run) -> dict[str, float]:
    """Seconds each consumer has spent in handlers so far (from its /metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    busy: dict[str, float] = {}
    for name in ("goals", "notifications"):
        text = (await run.http.get(f"{run.urls[name]}/metrics")).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            if family.name == "northstar_event_handler_duration_seconds":
                total += sum(s.value for s in family.samples if s.name.endswith("_sum"))
        busy[name] = total
    return busy


# ------------------------------------------------------------------ the load


async def fire(run: Run, url: str, point: Point) -> None:
    point.sent = time.perf_counter()
    try:
        response = await run.http.post(url, content=point.body, headers=point.headers)
    except httpx.HTTPError:
        point.status = -1
        return
    point.accepted = time.perf_counter()
    point.status = response.status_code


async def open_loop(
    run: Run, source_id: str, rate: float
) -> tuple[float, list[asyncio.Task[None]]]:
    """Fire point k at start + k / rate, never waiting on an answer; returns the start."""
    url = f"{run.urls['kpi_ingest']}/v1/webhooks/{source_id}"
    start = time.perf_counter() + 0.2
    tasks: list[asyncio.Task[None]] = []
    for point in run.points:
        point.scheduled = start + point.k / rate
        delay = point.scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(run, url, point)))
    return start, tasks


# ------------------------------------------------------------------ numbers


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        # nearest rank: the smallest value with at least q of the samples at or below it
        rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))
        return round(ordered[rank - 1] * 1000, 1)

    return {
        "n": len(ordered),
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


def _spans(points: list[Point], since: str, until: str) -> list[float]:
    spans = []
    for p in points:
        start, end = getattr(p, since), getattr(p, until)
        if start is not None and end is not None:
            spans.append(end - start)
    return spans


def summarize(run: Run, rate: float, start: float, goals: int, steps: int) -> dict[str, Any]:
    points = run.points
    accepted = [p for p in points if p.status == 202 and p.accepted is not None]
    sends = [p.sent for p in points if p.sent is not None]
    span = max(sends) - min(sends) if len(sends) > 1 else 0.0
    lateness = [p.sent - p.scheduled for p in points if p.sent is not None]
    statuses: dict[str, int] = {}
    for p in points:
        statuses[str(p.status)] = statuses.get(str(p.status), 0) + 1
    lag = sorted(run.loop_lag) or [0.0]
    return {
        "tenant": run.tenant,
        "goals": goals,
        "steps_per_goal": steps,
        "points": len(points),
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round((len(sends) - 1) / span, 3) if span else None,
        "statuses": statuses,
        "send_lateness_ms": {
            "p50": round(statistics.median(lateness) * 1000, 2) if lateness else None,
            "max": round(max(lateness) * 1000, 2) if lateness else None,
        },
        "webhook_202": percentiles(_spans(accepted, "sent", "accepted")),
        "to_goal_progress": percentiles(_spans(accepted, "accepted", "progress")),
        "to_inbox_item": percentiles(_spans(accepted, "accepted", "inbox")),
        "missing": {
            "goal_progress": sum(1 for p in accepted if p.progress is None),
            "inbox_item": sum(1 for p in accepted if p.inbox is None),
        },
        "resolution_ms": {
            "clock": "time.perf_counter (ns)",
            "event_loop_lag_p50": round(lag[len(lag) // 2] * 1000, 2),
            "event_loop_lag_p99": round(lag[min(len(lag) - 1, int(len(lag) * 0.99))] * 1000, 2),
            "kafka_fetch_max_wait_ms": 50,
            "sse": "pushed by the notifications process's in-memory hub on write",
        },
        "measured_at": datetime.now(UTC).isoformat(),
        "started_at_perf": start,
    }


async def forget_tenant(tenant: str) -> int:
    """Delete the bench tenant's documents from the stack's databases, so that runs do not pile
    up in collections the services scan (FerretDB pushes few filters down)."""
    from pymongo import AsyncMongoClient

    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    deleted = 0
    try:
        for name in await client.list_database_names():
            if not name.startswith("northstar_"):
                continue
            db = client[name]
            for collection in await db.list_collection_names():
                deleted += (await db[collection].delete_many({"tenant": tenant})).deleted_count
    finally:
        await client.close()
    return deleted


# ------------------------------------------------------------------ the run


async def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    ports = [int(p) for p in args.ports.split(",")]
    urls = {name: f"http://127.0.0.1:{port}" for name, port in zip(SERVICES, ports, strict=True)}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        run = Run(urls=urls, tenant=f"bench-{uuid.uuid4().hex[:8]}", http=http)
        for name, url in urls.items():
            response = await http.get(f"{url}/readyz")
            if response.status_code != 200:
                raise BenchFailed(f"{name} is not ready at {url}; run `make up` first")
        print(f"e2e: provisioning tenant {run.tenant} and {args.goals} goals ...", flush=True)
        source_id, secret = await set_up(run, args.goals, args.steps)
        prepare(run, source_id, secret, args.goals, args.steps)

        stop = asyncio.Event()
        kafka_ready, sse_ready = asyncio.Event(), asyncio.Event()
        consumer = await goals_topic_consumer(kafka_ready)
        observers = [
            asyncio.create_task(watch_progress(consumer, run, stop)),
            asyncio.create_task(watch_inbox(run, args.steps, sse_ready, stop)),
            asyncio.create_task(lag_probe(run, stop)),
        ]
        try:
            await asyncio.wait_for(sse_ready.wait(), 15)
            print(
                f"e2e: {len(run.points)} points at {args.rate}/s, open loop "
                f"(~{len(run.points) / args.rate:.0f} s) ...",
                flush=True,
            )
            busy_before = await handler_seconds(run)
            start, tasks = await open_loop(run, source_id, args.rate)
            await asyncio.wait_for(asyncio.gather(*tasks), args.drain)
            deadline = time.monotonic() + args.drain

            def done() -> bool:
                return all(
                    p.status != 202 or (p.progress is not None and p.inbox is not None)
                    for p in run.points
                )

            while not done() and time.monotonic() < deadline:
                if any(o.done() for o in observers):
                    break  # an observer failed: its exception is raised below
                await asyncio.sleep(0.1)
            arrived = [t for p in run.points for t in (p.progress, p.inbox) if t is not None]
            window = (max(arrived) if arrived else time.perf_counter()) - start
            busy_after = await handler_seconds(run)
        finally:
            stop.set()
            for task in observers:
                task.cancel()
            results = await asyncio.gather(*observers, return_exceptions=True)
            await consumer.stop()
            if not args.keep:
                await asyncio.sleep(2)  # let the last notifications and relays settle
                print(f"e2e: removed {await forget_tenant(run.tenant)} documents", flush=True)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError):
                raise result
        summary = summarize(run, args.rate, start, args.goals, args.steps)
        # a consumer handles one record at a time: its busy share of the window is its load
        summary["consumer_utilization"] = {
            name: round((busy_after[name] - busy_before[name]) / window, 3) for name in busy_after
        }
        summary["window_s"] = round(window, 2)
        return summary


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--goals", type=int, default=15)
    p.add_argument("--steps", type=int, default=4, help="points per goal, one milestone each")
    p.add_argument("--rate", type=float, default=0.5, help="arrivals per second (fixed)")
    p.add_argument("--drain", type=float, default=60.0, help="seconds to wait for the tail")
    p.add_argument("--keep", action="store_true", help="keep the bench tenant's documents")
    p.add_argument("--ports", default="8001,8002,8003,8004,8005")
    p.add_argument("--out", type=Path, default=REPO / "bench-results" / "e2e_latency.json")
    return p


def table(r: dict[str, Any]) -> str:
    lines = [
        f"arrivals: {r['points']} points, target {r['target_rate_per_s']}/s, achieved "
        f"{r['achieved_rate_per_s']}/s (open loop; send lateness p50 "
        f"{r['send_lateness_ms']['p50']} ms, max {r['send_lateness_ms']['max']} ms)",
        f"{'latency':<32} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'max ms':>9}",
    ]
    for key, name in (
        ("webhook_202", "webhook sent → 202"),
        ("to_goal_progress", "202 → goal.progress_updated"),
        ("to_inbox_item", "202 → inbox item (SSE)"),
    ):
        s = r[key]
        lines.append(
            f"{name:<32} {s['n']:>5} {s['p50_ms']!s:>9} {s['p95_ms']!s:>9} "
            f"{s['p99_ms']!s:>9} {s['max_ms']!s:>9}"
        )
    util = ", ".join(f"{k} {v:.0%}" for k, v in r["consumer_utilization"].items())
    lines.append(f"consumers busy during the run (handler time / {r['window_s']} s): {util}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result = asyncio.run(asyncio.wait_for(run_bench(args), 300))
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
