"""``make bench-load``: the whole pipeline under sustained, open-loop load, step by step.

See docs/bench-load.md for the design and how to read the table. Against ``make up``'s stack by
default (``--ports``); ``--serve`` starts its own five services on 18001-18005 against the
Kafka and document store of ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URI``, with a private topic
prefix and private databases, and removes all of it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.bench.bench_kpi_ingest import RawClient
from tests.bench.load import report
from tests.bench.load.observe import (
    HZ,
    MACHINE,
    LagMonitor,
    Sent,
    goals_topic,
    never_applied,
    read_ticks,
    scheduler_caught_up,
    stack_pids,
    watch_inbox,
    watch_progress,
)
from tests.bench.load.plan import (
    Population,
    bounded,
    cpu_share,
    drain_seconds,
    knee,
    lag_growth_per_s,
    latency_summary,
    recipients,
    schedule,
    windows,
    worst,
)
from tests.bench.load.population import Tenant, set_up

REPO = Path(__file__).resolve().parents[3]
SERVICES = ("people", "goals", "feedback", "kpi_ingest", "notifications")
# the per-window timeline's width: short enough to catch a burst of a few seconds
WINDOW_S = 2.0
STATUSES = ("202", "429", "503", "401", "timeout")


# ------------------------------------------------------------------ one step


class Sender:
    """One source's keep-alive connections, ``size`` of them, each carrying one request at a
    time (a sender's connection pool). A raw HTTP/1.1 client (``tests.bench.bench_kpi_ingest.
    RawClient``), not httpx: httpx spent ~80 % of the generator's CPU at 400/s (py-spy: its
    pool's bookkeeping, and a failed import lookup on every request), so the generator, not
    the pipeline, capped the step at ~200/s with kpi_ingest holding 11-30 requests."""

    def __init__(self, url: str, secret: str, size: int) -> None:
        self.url, self.secret = url, secret
        self.idle: asyncio.Queue[RawClient] = asyncio.Queue()
        for _ in range(size):
            self.idle.put_nowait(RawClient(url))

    async def post(self, body: bytes, headers: dict[str, str], timeout: float) -> int:
        """POST on an idle connection, waiting for one within ``timeout`` too; a timed-out or
        broken connection is replaced. A connection the server closed while idle (its
        keep-alive timeout) is retried once on a new one, as HTTP clients do."""
        async with asyncio.timeout(timeout):
            client = await self.idle.get()
            try:
                try:
                    return await client.post(body, headers)
                except (ConnectionError, asyncio.IncompleteReadError):
                    if not client.reused:
                        raise
                    client = self._replace(client)
                    return await client.post(body, headers)
            except BaseException:
                client = self._replace(client)
                raise
            finally:
                self.idle.put_nowait(client)

    def _replace(self, client: RawClient) -> RawClient:
        """A new connection for one whose state is unknown (broken, or cut mid-request)."""
        client.close()
        return RawClient(self.url)

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()


async def fire(sender: Sender, sent: Sent, body: bytes, timeout: float) -> None:
    from shared.webhooks import signed_headers

    # the sender's timeout runs from when it meant to send, waiting for a connection too
    left = sent.scheduled + timeout - time.perf_counter()
    if left <= 0:
        sent.status = "timeout"
        return
    # signed when sent: a signature made minutes ahead would fall out of the 5-minute window
    headers = {**signed_headers(sender.secret, body), "content-type": "application/json"}
    sent.sent = time.perf_counter()
    try:
        status = await sender.post(body, headers, left)
    except TimeoutError:
        sent.status = "timeout"
    except (OSError, asyncio.IncompleteReadError, ValueError):
        sent.status = "error"
    else:
        sent.status = str(status)
        sent.answered = time.perf_counter()


class Step:
    """One rate held for the step's duration: plan, send open loop, drain, summarize."""

    def __init__(self, index: int, rate: float, duration: float) -> None:
        self.index = index
        self.rate = rate
        self.duration = duration
        self.sent: list[Sent] = []
        self.start = 0.0
        self.wall_start = datetime.now(UTC)  # the start on the wall clock, to match logs
        self.end = 0.0
        self.drained_at: float | None = None
        self.ticks: list[dict[str, int]] = []
        self.tick_times: list[float] = []
        # (time, ticks) every WINDOW_S while the step sends: the per-window timeline
        self.readings: list[tuple[float, dict[str, int]]] = []
        self.never_applied: int | None = None  # of the matching points without progress


class LoadBench:
    def __init__(self, args: argparse.Namespace, urls: dict[str, str], prefix: str) -> None:
        self.args = args
        self.urls = urls
        self.prefix = prefix
        self.run_id = uuid.uuid4().hex[:8]
        self.population = Population.build(
            people=args.people,
            managers=args.managers,
            goals=args.goals,
            crossing_share=args.crossing_share,
            unmatched_share=args.unmatched_share,
            seed=args.seed,
        )
        self.by_id: dict[str, Sent] = {}
        self.celebrated: dict[tuple[str, str], Sent] = {}
        self.watched: set[int] = set()
        self.pids = stack_pids(args.pid_dir)
        self.lag = LagMonitor(args.kafka, prefix, every_s=args.lag_every)

    def plan_step(self, step: Step, t: Tenant, wall: datetime) -> list[tuple[Sent, int, bytes]]:
        out: list[tuple[Sent, int, bytes]] = []
        from shared.events import deterministic_id

        for k, offset in enumerate(schedule(step.rate, step.duration)):
            point = self.population.next_point()
            source_id = t.sources[k % len(t.sources)][0]
            event_id = f"load-{self.run_id}-{step.index}-{k}"
            body = orjson.dumps(
                {
                    "datapoints": [
                        {
                            "id": event_id,
                            "metric": point.metric,
                            "value": point.value,
                            # the scheduled moment: later points of a series are newer
                            "timestamp": (wall + timedelta(seconds=offset)).isoformat(),
                            "dimensions": point.dimensions,
                        }
                    ]
                }
            )
            sent = Sent(
                step.index,
                offset,
                deterministic_id(source_id, event_id, point.metric),
                point.goal,
                point.milestone,
            )
            if point.goal is not None and point.milestone is not None:
                owner = self.population.people[self.population.goals[point.goal].owner]
                sent.recipients = sum(1 for r in recipients(owner) if r in self.watched)
                self.celebrated[(t.goal_ids[point.goal], point.milestone)] = sent
            if point.goal is not None:
                self.by_id[sent.datapoint_id] = sent
            step.sent.append(sent)
            out.append((sent, k % len(t.sources), body))
        return out

    def tick(self, step: Step) -> None:
        step.tick_times.append(time.perf_counter())
        step.ticks.append(read_ticks(self.pids))

    async def sample_ticks(self, step: Step) -> None:
        """Every process's ticks each WINDOW_S from the step's start to its end (read off the
        event loop, which times the sends)."""
        await asyncio.sleep(max(0.0, step.start - time.perf_counter()))
        due = step.start
        while due <= step.start + step.duration + 1e-6:
            ticks = await asyncio.to_thread(read_ticks, self.pids)
            step.readings.append((time.perf_counter(), ticks))
            due += WINDOW_S
            await asyncio.sleep(max(0.0, due - time.perf_counter()))

    async def run_step(self, step: Step, t: Tenant, senders: list[Sender]) -> None:
        step.wall_start = datetime.now(UTC) + timedelta(seconds=0.5)
        planned = self.plan_step(step, t, step.wall_start)
        step.start = time.perf_counter() + 0.5
        for sent, *_ in planned:
            sent.scheduled += step.start
        self.tick(step)
        tasks: list[asyncio.Task[None]] = []
        sampler = asyncio.create_task(self.sample_ticks(step))
        try:
            for sent, source, body in planned:
                delay = sent.scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(
                    asyncio.create_task(fire(senders[source], sent, body, self.args.timeout))
                )
            step.end = step.start + step.duration
            await asyncio.sleep(max(0.0, step.end - time.perf_counter()))
            self.tick(step)
            # every request ends by its timeout; the tail also waits for the observers
            await asyncio.wait(tasks, timeout=self.args.timeout + 5)
        finally:
            sampler.cancel()
            for task in tasks:
                task.cancel()
        deadline = time.monotonic() + self.args.drain
        while time.monotonic() < deadline:
            drained = drain_seconds(self.lag.samples, step.end) is not None
            arrived = all(
                s.status != "202"
                or ((s.goal is None or s.progress is not None) and len(s.inbox) >= s.recipients)
                for s in step.sent
            )
            if drained and arrived:
                break
            await asyncio.sleep(0.25)
        self.tick(step)

    # ------------------------------------------------------------------ numbers

    def without_progress(self, step: Step, t: Tenant) -> dict[str, list[str]]:
        """Goal id -> the step's accepted points for it that brought no progress event."""
        out: dict[str, list[str]] = {}
        for s in step.sent:
            if s.status == "202" and s.goal is not None and s.progress is None:
                out.setdefault(t.goal_ids[s.goal], []).append(s.datapoint_id)
        return out

    def summarize(self, step: Step) -> dict[str, Any]:
        sends = sorted(s.sent for s in step.sent if s.sent is not None)
        span = sends[-1] - sends[0] if len(sends) > 1 else 0.0
        statuses = dict.fromkeys((*STATUSES, "other"), 0)
        others: dict[str, int] = {}
        for s in step.sent:
            statuses[s.status if s.status in STATUSES else "other"] += 1
            if s.status not in STATUSES:
                others[s.status] = others.get(s.status, 0) + 1
        ok = [s for s in step.sent if s.status == "202" and s.answered is not None]
        answered = [s.answered - s.scheduled for s in ok if s.answered is not None]
        lateness = [s.sent - s.scheduled for s in step.sent if s.sent is not None]
        progress_at = [
            (s.answered, s.progress - s.answered) for s in ok if s.progress and s.answered
        ]
        progress = [latency for _, latency in progress_at]
        inbox = [at - s.answered for s in ok if s.answered for at in s.inbox]
        window = [(t, lags) for t, lags in self.lag.samples if t >= step.start]
        during = [(t, lags) for t, lags in window if t <= step.end]
        drain = drain_seconds(window, step.end)
        growth = lag_growth_per_s(window, step.start, step.end)
        cpu: dict[str, dict[str, float | None]] = {}
        (t0, t1, t2), (c0, c1, c2) = step.tick_times, step.ticks
        for name in [*self.pids, MACHINE]:
            if name in c0 and name in c1 and name in c2:
                cpu[name] = {
                    "step": cpu_share(c0[name], c1[name], t1 - t0, HZ),
                    "drain": cpu_share(c1[name], c2[name], t2 - t1, HZ),
                }
        matching = [s for s in ok if s.goal is not None]
        return {
            "rate": step.rate,
            "started_at": step.wall_start.isoformat(),
            "duration_s": step.duration,
            "points": len(step.sent),
            "achieved_rate": round((len(sends) - 1) / span, 1) if span else None,
            "statuses": statuses,
            "other_statuses": others,  # "error": no HTTP answer (connection refused or reset)
            "send_lateness": latency_summary(lateness),
            "webhook_202": latency_summary(answered),
            "to_goal_progress": latency_summary(progress),
            "to_inbox_item": latency_summary(inbox),
            "matching_points": len(matching),
            "missing_progress": sum(1 for s in matching if s.progress is None),
            # of those, the ones their goal does not remember applying (lost)
            "missing_never_applied": step.never_applied,
            "crossing_points": sum(1 for s in ok if s.milestone is not None),
            "inbox_expected": sum(s.recipients for s in ok),
            "inbox_arrived": len(inbox),
            "max_lag": worst(during),
            "max_lag_incl_drain": worst(window),
            "lag_growth_per_s": None if growth is None else round(growth, 2),
            "lag_samples": len(window),
            "drain_s": None if drain is None else round(drain, 2),
            "bounded": bounded(
                rate=step.rate,
                growth_per_s=growth,
                drain_s=drain,
                max_drain_s=self.args.bounded_drain,
            ),
            "cpu_cores": cpu,
            "windows": windows(step.start, progress_at, step.readings, HZ),
        }

    # ------------------------------------------------------------------ the run

    async def run(self) -> dict[str, Any]:
        a = self.args
        per_source = max(1, a.connections // a.sources)
        tenant_name = f"load-{self.run_id}"
        started = datetime.now(UTC)
        async with (
            httpx.AsyncClient(timeout=30) as setup_http,
            contextlib.AsyncExitStack() as clients,
            httpx.AsyncClient(limits=httpx.Limits(max_connections=a.people + 10)) as sse,
        ):
            for name, url in self.urls.items():
                try:
                    up = (await setup_http.get(f"{url}/readyz")).status_code == 200
                except httpx.HTTPError:
                    up = False
                if not up:
                    raise SystemExit(f"{name} is not ready at {url}; run `make up` first")
            t = Tenant(tenant_name, self.urls, setup_http)
            p = self.population
            print(
                f"load: tenant {tenant_name}: {len(p.people)} people, {len(p.goals)} goals, "
                f"{p.key_results} key results, {a.sources} sources ...",
                flush=True,
            )
            began = time.monotonic()
            await set_up(t, p, sources=a.sources, emails=a.emails, timeout=a.setup_timeout)
            print(f"load: set up in {time.monotonic() - began:.0f} s", flush=True)
            senders = [
                Sender(f"{self.urls['kpi_ingest']}/v1/webhooks/{source_id}", secret, per_source)
                for source_id, secret in t.sources
            ]
            for sender in senders:
                clients.callback(sender.close)
            await self.lag.start()
            stop = asyncio.Event()
            consumer = await goals_topic(a.kafka, self.prefix + "northstar.goals.v1")
            watchers = list(range(a.managers)) + [
                a.managers + i * (a.people - a.managers) // max(1, a.extra_watchers)
                for i in range(a.extra_watchers)
            ]
            self.watched = set(watchers)
            ready = 0

            def one_ready() -> None:
                nonlocal ready
                ready += 1

            stream_url = f"{self.urls['notifications']}/v1/inbox/stream"
            tasks = [
                asyncio.create_task(watch_progress(consumer, tenant_name, self.by_id, stop)),
                asyncio.create_task(self.lag.run(stop)),
                *(
                    asyncio.create_task(
                        watch_inbox(
                            sse,
                            stream_url,
                            t.bearer(t.person_ids[i], "employee"),
                            self.celebrated,
                            one_ready,
                            stop,
                        )
                    )
                    for i in self.watched
                ),
            ]
            steps: list[dict[str, Any]] = []
            settled, checked = False, None
            try:
                deadline = time.monotonic() + 30
                while ready < len(self.watched) and time.monotonic() < deadline:
                    if any(task.done() for task in tasks):
                        break
                    await asyncio.sleep(0.1)
                settled = await self.lag.settled(a.setup_timeout)
                print(f"load: consumers settled before the first step: {settled}", flush=True)
                checked = await scheduler_caught_up(a.goals_db, tenant_name, a.setup_timeout)
                waited = "not within the set-up timeout" if checked is None else f"{checked:.0f} s"
                print(f"load: the goals scheduler's first rounds: {waited}", flush=True)
                for index, rate in enumerate(a.rates):
                    if any(task.done() for task in tasks):
                        break  # an observer failed: its error is raised below
                    step = Step(index, rate, a.duration)
                    print(f"load: step {index + 1}: {rate:g}/s for {a.duration:g} s", flush=True)
                    await self.run_step(step, t, senders)
                    step.never_applied = await never_applied(
                        a.goals_db, tenant_name, self.without_progress(step, t)
                    )
                    steps.append(self.summarize(step))
                    print(report.step_line(steps[-1]), flush=True)
                    if not steps[-1]["bounded"] and not a.keep_going:
                        print("load: lag did not stay bounded; higher rates skipped", flush=True)
                        break
            finally:
                stop.set()
                for task in tasks:
                    task.cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
                await consumer.stop()
                await self.lag.stop()
            for result in results:
                if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError):
                    raise result
        return {
            "started_at": started.isoformat(),
            "machine": report.machine(),
            "tenant": tenant_name,
            "urls": self.urls,
            "population": {
                "people": len(p.people),
                "goals": len(p.goals),
                "key_results": p.key_results,
                "sources": a.sources,
                "watched_inboxes": len(self.watched),
                "crossing_share": a.crossing_share,
                "unmatched_share": a.unmatched_share,
                "points_without_room": p.exhausted,
                "celebration_email": a.emails,
            },
            "lag_samples_missed": self.lag.errors,
            "settled_before_first_step": settled,
            "scheduler_rounds_before_first_step_s": checked,
            "steps": steps,
            "knee_rate": knee(steps),
            "targets": report.targets(steps),
        }


# ------------------------------------------------------------------ a private stack (--serve)


@contextlib.contextmanager
def private_stack(ports: list[int], mail_port: int, *, split_ingest: bool = False) -> Any:
    """Five services of this checkout against the given Kafka and store, isolated by a topic
    prefix and databases of their own; stopped and removed on the way out.

    ``split_ingest``: kpi_ingest as a deployment scaled for webhooks runs it, two processes: the
    one on the bench's port answers webhooks with its consumers off, a second (on the port after
    the last) runs the consumers (the series projection, the signals, the journal's pruning)."""
    from deploy.local.stack import start_services, stop

    for var in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI"):
        if not os.environ.get(var):
            raise SystemExit(f"--serve needs {var} (the servers to run against)")
    tag = uuid.uuid4().hex[:6]
    prefix = f"loadbench{tag}."
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "MONGODB_URI": os.environ["MONGODB_URI"],
        "NORTHSTAR_TOPIC_PREFIX": prefix,
        "PYTHONPATH": str(REPO),  # the services run this checkout's code
        "NORTHSTAR_LOG_LEVEL": "WARNING",
    }
    env_prefixes = {"people": "PEOPLE", "goals": "GOALS", "feedback": "FEEDBACK"}
    env_prefixes |= {"kpi_ingest": "KPI", "notifications": "NOTIFICATIONS"}
    databases = [f"loadbench{tag}_{name}" for name in SERVICES]
    for name, db in zip(SERVICES, databases, strict=True):
        env[f"{env_prefixes[name]}_MONGODB_DATABASE"] = db
    state = REPO / ".run" / "bench"
    print(f"load: starting services of {REPO} on ports {ports} (prefix {prefix}) ...", flush=True)
    processes = []
    try:
        processes = start_services(
            state,
            {**env, "KPI_CONSUMERS_ENABLED": "false"} if split_ingest else env,
            ports={**dict(zip(SERVICES, ports, strict=True)), "mailsink": mail_port},
        )
        if split_ingest:
            processes.append(_ingest_consumers(state, env, max(ports) + 1))
        yield prefix, state / "pids", databases[SERVICES.index("goals")]
    finally:
        from deploy.local.servers import Process

        stop(processes)
        Process("mailsink", state / "pids" / "mailsink.pid").stop()
        asyncio.run(_forget_private(databases, prefix))


def _ingest_consumers(state: Path, env: dict[str, str], port: int) -> Any:
    """A second kpi_ingest process running the consumers (its pid file: kpi_ingest-consumers)."""
    from deploy.local.servers import spawn, wait_until
    from deploy.local.stack import ready

    northstar = str(Path(sys.executable).with_name("northstar"))
    proc = spawn(
        "kpi_ingest-consumers",
        [northstar, "serve", "kpi_ingest", "--port", str(port)],
        state_dir=state,
        env=env,
    )
    wait_until(lambda: ready(port), f"kpi_ingest's consumers on port {port}", 60, proc)
    return proc


async def _forget_private(databases: list[str], prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(os.environ["MONGODB_URI"])
    try:
        for db in databases:
            await client.drop_database(db)
    finally:
        await client.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    await admin.start()
    try:
        mine = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


# ------------------------------------------------------------------ the command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])

    def rates(text: str) -> list[float]:
        return [float(r) for r in text.split(",") if r.strip()]

    p.add_argument("--rates", type=rates, default=[50.0, 100.0, 200.0, 400.0])
    p.add_argument("--duration", type=float, default=60.0, help="seconds per step")
    p.add_argument("--drain", type=float, default=60.0, help="max seconds to wait after a step")
    p.add_argument(
        "--bounded-drain", type=float, default=10.0, help="a bounded step drains within this"
    )
    p.add_argument("--keep-going", action="store_true", help="run every rate even past the knee")
    p.add_argument("--people", type=int, default=200)
    p.add_argument("--managers", type=int, default=20)
    p.add_argument("--goals", type=int, default=1000)
    p.add_argument("--sources", type=int, default=12)
    p.add_argument("--crossing-share", type=float, default=0.05)
    p.add_argument("--unmatched-share", type=float, default=0.1)
    p.add_argument("--extra-watchers", type=int, default=10, help="inbox streams beyond managers")
    p.add_argument("--emails", action="store_true", help="keep celebration emails on")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--timeout", type=float, default=10.0, help="a sender's request timeout")
    p.add_argument("--connections", type=int, default=384, help="in flight, over all sources")
    p.add_argument("--lag-every", type=float, default=0.25, help="seconds between lag samples")
    p.add_argument("--setup-timeout", type=float, default=180.0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--ports", default="8001,8002,8003,8004,8005", help="people..notifications")
    p.add_argument("--kafka", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    p.add_argument(
        "--pid-dir", type=Path, action="append", help="pid files of the stack (default .run/pids)"
    )
    p.add_argument("--serve", action="store_true", help="start a private set of services")
    p.add_argument("--mail-port", type=int, default=18025, help="the private stack's SMTP sink")
    p.add_argument(
        "--split-ingest",
        action="store_true",
        help="with --serve: kpi_ingest as two processes, webhooks (consumers off) and consumers",
    )
    p.add_argument("--keep", action="store_true", help="keep the tenant's documents")
    p.add_argument("--out", type=Path, default=REPO / "bench-results" / "load.json")
    p.add_argument("--budget", type=float, default=0, help="overall time limit (0: derived)")
    return p


def budget(args: argparse.Namespace) -> float:
    """The whole run stops by itself: set-up, every step with its drain, and slack."""
    per_step = args.duration + args.timeout + 5 + args.drain + 5
    # the set-up: the import, the pairing, the projections' wait and the goals, each within
    # --setup-timeout on a sane machine, and the wait for lag 0 before the first step
    setup = 5 * args.setup_timeout
    return float(args.budget) or setup + len(args.rates) * per_step + 120


async def _run(args: argparse.Namespace, urls: dict[str, str], prefix: str) -> dict[str, Any]:
    bench = LoadBench(args, urls, prefix)
    try:
        return await asyncio.wait_for(bench.run(), budget(args))
    finally:
        if not args.keep and not args.serve:
            from tests.bench.e2e_latency import forget_tenant

            with contextlib.suppress(Exception):
                removed = await asyncio.wait_for(forget_tenant(f"load-{bench.run_id}"), 300)
                print(f"load: removed {removed} documents of the bench tenant", flush=True)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: a private stack is stopped and removed on the way out
    signal.signal(signal.SIGTERM, _interrupt)
    ports = [int(x) for x in args.ports.split(",")]
    with contextlib.ExitStack() as stack:
        prefix = os.environ.get("NORTHSTAR_TOPIC_PREFIX", "")
        args.pid_dir = args.pid_dir or [REPO / ".run" / "pids"]
        args.goals_db = os.environ.get("GOALS_MONGODB_DATABASE", "northstar_goals")
        if args.serve:
            prefix, pid_dir, args.goals_db = stack.enter_context(
                private_stack(ports, args.mail_port, split_ingest=args.split_ingest)
            )
            args.pid_dir = [pid_dir, *args.pid_dir]
        urls = {n: f"http://{args.host}:{port}" for n, port in zip(SERVICES, ports, strict=True)}
        # uvloop (a dependency of uvicorn[standard]): the generator's own overhead stays small
        import uvloop

        result = uvloop.run(_run(args, urls, prefix))
    print(report.table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
