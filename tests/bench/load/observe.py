"""What the load bench watches while it sends: goal progress, inbox items, lag and CPU."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from tests.bench.load.plan import (
    Sample,
    children_of,
    cpu_ticks,
    group_lag,
    machine_busy_ticks,
    tree_ticks,
)
from tests.bench.sse import inbox_items

if TYPE_CHECKING:
    from pymongo import AsyncMongoClient

PROGRESS = "northstar.goal.progress_updated.v1"

# each consumer group of the stack and the logical topics its router subscribes to
GROUP_TOPICS: dict[str, tuple[str, ...]] = {
    "goals": ("northstar.people.v1", "northstar.kpi.datapoints.v1", "northstar.feedback.v1"),
    "kpi-series": ("northstar.kpi.datapoints.v1",),
    "feedback": ("northstar.people.v1", "northstar.goals.v1"),
    "notifications": (
        "northstar.people.v1",
        "northstar.goals.v1",
        "northstar.feedback.v1",
        "northstar.kpi.datapoints.v1",
    ),
}


@dataclass
class Sent:
    """One data point on the wire and what became of it (``time.perf_counter`` clocks)."""

    step: int
    scheduled: float
    datapoint_id: str
    goal: int | None
    milestone: str | None
    recipients: int = 0  # inbox items expected at watched people
    sent: float | None = None
    answered: float | None = None
    status: str = "unsent"  # "202", "429", ..., "timeout", "error"
    progress: float | None = None  # its goal.progress_updated was read from the goals topic
    inbox: list[float] = field(default_factory=list)  # arrivals at watched inboxes


# ------------------------------------------------------------------ goal progress


async def goals_topic(bootstrap: str, topic: str) -> Any:
    """A consumer without a group on every partition of the goals topic, at its end."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    deadline = time.monotonic() + 15
    while not consumer.assignment():
        if time.monotonic() > deadline:
            await consumer.stop()
            raise RuntimeError(f"no partition of {topic} assigned")
        await asyncio.sleep(0.05)
    for tp in consumer.assignment():
        await consumer.position(tp)  # the end, resolved before the first send
    return consumer


async def watch_progress(
    consumer: Any, tenant: str, by_id: Mapping[str, Sent], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=100, max_records=2000)
        now = time.perf_counter()
        for records in batches.values():
            for record in records:
                headers = dict(record.headers)
                if headers.get("ce_type") != PROGRESS.encode():
                    continue
                if headers.get("ce_tenant") != tenant.encode():
                    continue
                cause = orjson.loads(record.value).get("cause") or {}
                sent = by_id.get(cause.get("datapoint_id") or "")
                if sent is not None and sent.progress is None:
                    sent.progress = now


# ------------------------------------------------------------------ inbox items


async def watch_inbox(
    http: httpx.AsyncClient,
    url: str,
    token: Mapping[str, str],
    celebrated: Mapping[tuple[str, str], Sent],
    ready: Callable[[], None],
    stop: asyncio.Event,
) -> None:
    """One person's SSE stream: a celebration of (goal, milestone) is that point's arrival.

    The stream ends at its lifetime (``SSE_STREAM_LIFETIME_S``) and is resumed after its last
    item, as an ``EventSource`` would."""
    timeout = httpx.Timeout(10.0, read=None)
    last_id: str | None = None
    while not stop.is_set():
        headers = dict(token) | ({"Last-Event-ID": last_id} if last_id else {})
        async with http.stream("GET", url, headers=headers, timeout=timeout) as resp:
            if resp.status_code != 200:
                raise RuntimeError(f"inbox stream answered {resp.status_code}")
            if last_id is None:
                ready()
            async for now, item_id, item in inbox_items(resp, stop):
                last_id = item_id or last_id
                data = item.get("data") or {}
                if item.get("category") != "celebration":
                    continue
                sent = celebrated.get((str(data.get("goal_id")), str(data.get("milestone"))))
                if sent is not None:
                    sent.inbox.append(now)


# ------------------------------------------------------------------ consumer lag


class LagMonitor:
    """Samples every group's lag (committed vs end offsets, Kafka admin) at a fixed pace."""

    def __init__(self, bootstrap: str, prefix: str, every_s: float = 0.25) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.every_s = every_s
        self.samples: list[Sample] = []
        self.errors = 0
        self._admin: Any = None
        self._offsets: Any = None
        self._partitions: dict[str, list[Any]] = {}

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await self._admin.start()
        self._offsets = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await self._offsets.start()
        names = sorted({self.prefix + t for topics in GROUP_TOPICS.values() for t in topics})
        described = await self._admin.describe_topics(names)
        partitions = {
            d["topic"]: sorted(p["partition"] for p in d["partitions"]) for d in described
        }
        missing = [name for name in names if not partitions.get(name)]
        if missing:
            raise RuntimeError(f"topics not found (is the stack up?): {missing}")
        for group, topics in GROUP_TOPICS.items():
            self._partitions[group] = [
                TopicPartition(self.prefix + t, p)
                for t in topics
                for p in partitions[self.prefix + t]
            ]

    async def stop(self) -> None:
        for client in (self._admin, self._offsets):
            if client is not None:
                with contextlib.suppress(Exception):
                    await (client.close() if client is self._admin else client.stop())

    async def sample(self) -> dict[str, int]:
        every = sorted({tp for tps in self._partitions.values() for tp in tps})
        ends = await self._offsets.end_offsets(every)
        starts = await self._offsets.beginning_offsets(every)
        groups = list(self._partitions)
        fetched = await asyncio.gather(
            *(
                self._admin.list_consumer_group_offsets(self.prefix + g, partitions=tps)
                for g, tps in self._partitions.items()
            )
        )
        lags: dict[str, int] = {}
        for group, offsets in zip(groups, fetched, strict=True):
            committed = {tp: (meta.offset if meta else None) for tp, meta in offsets.items()}
            tps = self._partitions[group]
            lags[group] = group_lag(committed, {tp: ends[tp] for tp in tps}, starts)
        return lags

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            began = time.perf_counter()
            try:
                lags = await asyncio.wait_for(self.sample(), 5)
                self.samples.append((began, lags))
            except Exception:  # a missed sample is counted, not fatal
                self.errors += 1
            await asyncio.sleep(max(0.0, self.every_s - (time.perf_counter() - began)))

    async def settled(self, timeout_s: float) -> bool:
        """Wait (bounded) until every group has consumed everything."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(v == 0 for v in (await self.sample()).values()):
                return True
            await asyncio.sleep(0.5)
        return False


# ------------------------------------------------------------------ CPU


HZ = os.sysconf("SC_CLK_TCK")


def stack_pids(pid_dirs: list[Path]) -> dict[str, int]:
    """The processes the stack's pid files name (the first directory wins), and this one."""
    found: dict[str, int] = {}
    for pid_dir in pid_dirs:
        for pid_file in sorted(pid_dir.glob("*.pid")):
            with contextlib.suppress(OSError, ValueError):
                pid = int(pid_file.read_text().strip())
                if Path(f"/proc/{pid}/stat").exists():
                    found.setdefault(pid_file.stem, pid)
    found["bench (this process)"] = os.getpid()
    return found


MACHINE = "machine (every process)"


def read_ticks(pids: Mapping[str, int]) -> dict[str, int]:
    """CPU ticks of each process with its descendants (the document store's PostgreSQL with
    its backends), of this process alone (the services it may have started have their own
    lines), and of the whole machine under ``MACHINE``."""
    stats: dict[int, str] = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            stats[int(path.parent.name)] = path.read_text()
    named = set(pids.values())
    children = children_of(stats)  # once a reading: every 2 s of a step, ~11 trees each
    ticks: dict[str, int] = {}
    for name, pid in pids.items():
        with contextlib.suppress(ValueError, IndexError):
            if pid == os.getpid():
                ticks[name] = cpu_ticks(stats[pid])
            elif (tree := tree_ticks(stats, pid, apart=named, children=children)) is not None:
                ticks[name] = tree
    with contextlib.suppress(OSError, ValueError, StopIteration):
        ticks[MACHINE] = machine_busy_ticks(Path("/proc/stat").read_text())
    return ticks


def _store() -> AsyncMongoClient[dict[str, Any]]:
    """A client of the document store the stack runs on (the bench reads the goals' state)."""
    from pymongo import AsyncMongoClient

    return AsyncMongoClient(os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/"))


async def scheduler_caught_up(database: str, tenant: str, timeout_s: float) -> float | None:
    """Seconds until the goals scheduler's first rounds over the tenant's new goals are done
    (None: not within ``timeout_s``): each active goal's risk assessed today and the next look of
    its update nudge set.

    Those rounds read, assess and mark each new goal (about 5,000 store operations for 1,000
    goals, 500 goals a round and a round a minute): once a day, or once a goal, in production,
    but inside the first steps here unless the bench waits for them."""
    client = _store()
    began = time.monotonic()
    try:
        goals = client[database]["goals"]
        while time.monotonic() - began < timeout_s:
            now = datetime.now(UTC)  # the scheduler's clock and day (UTC)
            unchecked = {
                "tenant": tenant,
                "status": "active",
                "$or": [
                    {"risk_checked_on": {"$ne": now.date().isoformat()}},
                    {"update_check_at": {"$lte": now}},
                ],
            }
            if await goals.count_documents(unchecked) == 0:
                return time.monotonic() - began
            await asyncio.sleep(1)
        return None
    finally:
        await client.close()


async def never_applied(database: str, tenant: str, points: Mapping[str, list[str]]) -> int:
    """How many of ``points`` (goal id -> data point ids that brought no progress event) the
    goal does not remember applying: lost on the way, where the others arrived and moved
    nothing (under ``latest`` a point older than the one the goal shows, e.g. from another
    series of the same filter read from a partition further behind).

    Read after the step's drain: a point still in a backlog the drain did not clear counts as
    never applied too, and so would one reaching a goal no longer active (the population keeps
    every goal short of its target)."""
    from services.goals.records import applied_digest
    from services.goals.repository import guards_of

    if not points:
        return 0
    client = _store()
    try:
        remembered: dict[str, set[bytes]] = {}
        async for doc in client[database]["goals"].find(
            {"tenant": tenant, "_id": {"$in": list(points)}},
            {"applied": 1, "applied_ids": 1, "applied_times": 1},
        ):
            remembered[str(doc["_id"])] = {g.digest for g in guards_of(doc)}
    finally:
        await client.close()
    return sum(
        1
        for goal_id, ids in points.items()
        for point_id in ids
        if applied_digest(point_id) not in remembered.get(goal_id, set())
    )
