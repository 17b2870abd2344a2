"""The fault-suite harness: private servers, services as real processes, read-back helpers.

Everything a scenario touches is its own: a Kafka broker and a document store on free ports in a
temporary directory (never the shared servers on 9092/27017), and the services run as
``northstar serve <service>`` subprocesses so a scenario can ``kill -9`` and restart them.
Every process is remembered by pid and stopped by pid; the temporary directory is removed when
the cluster closes, even after a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord
from pymongo import AsyncMongoClient

from deploy.local.servers import DocumentStore, KafkaBroker, Process, free_port, spawn
from shared.auth import issue_local_token
from shared.config import CommonSettings
from shared.events import topics
from shared.webhooks import signed_headers

REPO = Path(__file__).resolve().parents[2]
SHARED_PORTS = frozenset({9092, 9093, 27017})

# the env prefix of each service's own settings
PREFIXES = {
    "people": "PEOPLE_",
    "goals": "GOALS_",
    "feedback": "FEEDBACK_",
    "kpi_ingest": "KPI_",
    "notifications": "NOTIFICATIONS_",
}


class ChaosError(AssertionError):
    """A scenario could not run to its checks (a server did not start, a wait timed out)."""


def northstar_bin() -> str:
    candidate = Path(sys.executable).with_name("northstar")
    if candidate.exists():
        return str(candidate)
    return str(REPO / ".venv" / "bin" / "northstar")


def _port() -> int:
    while True:
        port = free_port()
        if port not in SHARED_PORTS:
            return port


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


async def eventually(
    check: Callable[[], Awaitable[Any]], what: str, timeout: float, interval: float = 0.5
) -> Any:
    """Poll ``check`` until it returns something truthy; ChaosError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await check()
            if last:
                return last
        except Exception as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise ChaosError(f"{what}: not reached in {timeout:.0f}s (last: {last!r})")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------- services


@dataclass
class Service:
    """One service as a real process: ``northstar serve <name> --port <port>``."""

    name: str
    label: str
    port: int
    env: dict[str, str]
    state_dir: Path
    process: Process | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"{self.label}.log"

    async def start(self, timeout: float = 90.0) -> None:
        self.process = spawn(
            self.label,
            [northstar_bin(), "serve", self.name, "--port", str(self.port)],
            state_dir=self.state_dir,
            env=self.env,
            cwd=REPO,
        )
        self.starts += 1
        await self.wait_ready(timeout)

    async def wait_ready(self, timeout: float = 90.0) -> None:
        async with httpx.AsyncClient(timeout=3) as client:

            async def ready() -> bool:
                if self.process is None or not self.process.alive():
                    raise ChaosError(f"{self.label} exited; see {self.log_file}:\n{self.tail()}")
                return (await client.get(f"{self.url}/readyz")).status_code == 200

            deadline = time.monotonic() + timeout
            while True:
                try:
                    if await ready():
                        return
                except ChaosError:
                    raise
                except Exception:
                    pass
                if time.monotonic() > deadline:
                    raise ChaosError(f"{self.label} not ready in {timeout:.0f}s:\n{self.tail()}")
                await asyncio.sleep(0.3)

    async def kill(self) -> None:
        """``kill -9``."""
        if self.process is not None:
            await asyncio.to_thread(self.process.kill)

    async def stop(self) -> None:
        if self.process is not None:
            await asyncio.to_thread(self.process.stop, 15.0)

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


# --------------------------------------------------------------------------- the cluster


class Cluster:
    """A private Kafka broker and document store, and the services started on them."""

    def __init__(self, keep: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="northstar-chaos-"))
        self.kafka = KafkaBroker(port=_port(), controller_port=_port(), name="chaos-kafka")
        self.store = DocumentStore(port=_port(), name="chaos-docstore")
        self.kafka_proc: Process | None = None
        self.store_proc: Process | None = None
        self.services: list[Service] = []
        self.keep = keep
        self._mongo: AsyncMongoClient[dict[str, Any]] | None = None
        self._producer: AIOKafkaProducer | None = None

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    @property
    def mongodb_uri(self) -> str:
        return self.store.uri

    async def __aenter__(self) -> Cluster:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        started = time.monotonic()
        await asyncio.gather(self.start_broker(), self.start_store())
        log(
            f"private Kafka on {self.bootstrap} and document store on {self.mongodb_uri} "
            f"up in {time.monotonic() - started:.1f}s ({self.root})"
        )

    async def start_broker(self) -> None:
        self.kafka_proc = await asyncio.to_thread(self.kafka.start, self.root, 120.0)

    async def stop_broker(self) -> None:
        if self.kafka_proc is not None:
            await asyncio.to_thread(self.kafka_proc.stop, 30.0)

    async def start_store(self) -> None:
        self.store_proc = await asyncio.to_thread(self.store.start, self.root, 60.0)

    async def stop_store(self) -> None:
        if self._mongo is not None:
            await self._mongo.close()
            self._mongo = None
        if self.store_proc is not None:
            await asyncio.to_thread(self.store_proc.stop, 20.0)

    async def close(self) -> None:
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception as exc:
                log(f"stopping {service.label}: {exc}")
        self.services.clear()
        if self._producer is not None:
            try:
                await asyncio.wait_for(self._producer.stop(), 10)
            except Exception:
                pass
            self._producer = None
        if self._mongo is not None:
            await self._mongo.close()
            self._mongo = None
        for proc in (self.store_proc, self.kafka_proc):
            if proc is not None:
                try:
                    await asyncio.to_thread(proc.stop, 20.0)
                except Exception as exc:
                    log(f"stopping {proc.name}: {exc}")
        if self.keep:
            log(f"kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---------------------------------------------------------------- services

    def service(self, name: str, scope: Scope, replica: str = "", **settings: Any) -> Service:
        """A service of this scope (its topic prefix and databases); not started yet.

        ``replica`` names one of several processes of the same service (its own label, log
        and pid file; the same topics, group and database)."""
        prefix = PREFIXES[name]
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "MONGODB_URI": self.mongodb_uri,
            "NORTHSTAR_TOPIC_PREFIX": scope.topic_prefix,
            "NORTHSTAR_TOPIC_PARTITIONS": "3",
            "NORTHSTAR_LOG_LEVEL": "INFO",
            "NORTHSTAR_ENV": "local",
            "PYTHONUNBUFFERED": "1",
            f"{prefix}MONGODB_DATABASE": scope.database(name),
            f"{prefix}OUTBOX_POLL_INTERVAL_S": "0.2",
        }
        for key, value in settings.items():
            if key.isupper():  # a raw variable such as TZ
                env[key] = str(value)
            else:
                env[f"{prefix}{key.upper()}"] = (
                    json.dumps(value) if isinstance(value, list | dict) else str(value)
                )
        svc = Service(
            name=name,
            label=f"{scope.name}-{name}" + (f"-{replica}" if replica else ""),
            port=_port(),
            env=env,
            state_dir=self.root,
        )
        self.services.append(svc)
        return svc

    # ---------------------------------------------------------------- clients

    @property
    def mongo(self) -> AsyncMongoClient[dict[str, Any]]:
        if self._mongo is None:
            self._mongo = AsyncMongoClient(
                self.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5000
            )
        return self._mongo

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True
            )
            await self._producer.start()
        return self._producer

    async def drop_producer(self) -> None:
        if self._producer is not None:
            try:
                await asyncio.wait_for(self._producer.stop(), 10)
            except Exception:
                pass
            self._producer = None

    async def read_topic(self, topic: str, timeout: float = 60.0) -> list[ConsumerRecord[Any, Any]]:
        """Every record of a topic, from the beginning to the end offsets of now."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        try:
            parts = await _partitions(consumer, topic)
            if not parts:
                return []
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            records: list[ConsumerRecord[Any, Any]] = []
            deadline = time.monotonic() + timeout
            while True:
                behind = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
                if not behind:
                    break
                if time.monotonic() > deadline:
                    raise ChaosError(f"reading {topic} did not reach its end in {timeout:.0f}s")
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for batch in batches.values():
                    records.extend(batch)
            return records
        finally:
            await consumer.stop()

    async def group_lag(self, group: str, topic: str) -> int:
        """Records of ``topic`` the consumer group has not committed yet (-1: no commits)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await admin.start()
        await consumer.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
            parts = await _partitions(consumer, topic)
            tps = [TopicPartition(topic, p) for p in parts]
            ends = await consumer.end_offsets(tps)
            lag = 0
            for tp in tps:
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else 0
                lag += max(0, ends[tp] - done)
            return lag
        finally:
            await consumer.stop()
            await admin.close()

    async def caught_up(self, group: str, topic: str, timeout: float) -> None:
        """Wait until the group committed every record of the topic (logs the lag meanwhile)."""
        started = last_log = time.monotonic()

        async def done() -> bool:
            nonlocal last_log
            lag = await self.group_lag(group, topic)
            if lag and time.monotonic() - last_log > 10:
                log(f"{group}: lag {lag} after {time.monotonic() - started:.0f}s")
                last_log = time.monotonic()
            return lag == 0

        await eventually(done, f"consumer group {group} catching up on {topic}", timeout, 1.0)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    cluster = await consumer._client.fetch_all_metadata()
    return set(cluster.partitions_for_topic(topic) or ())


# --------------------------------------------------------------------------- scopes


@dataclass
class Scope:
    """What one scenario owns on the private servers: a topic prefix and database names."""

    name: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])

    @property
    def topic_prefix(self) -> str:
        return f"{self.name}-{self.run}."

    def topic(self, logical: str) -> str:
        return f"{self.topic_prefix}{logical}"

    def group(self, group: str) -> str:
        return f"{self.topic_prefix}{group}"

    def database(self, service: str) -> str:
        return f"chaos_{self.name}_{self.run}_{service}".replace("-", "_")

    @property
    def datapoints(self) -> str:
        return self.topic(topics.KPI_DATAPOINTS)

    @property
    def datapoints_dlq(self) -> str:
        return self.topic(topics.dlq(topics.KPI_DATAPOINTS))


def auth(tenant: str, sub: str, *roles: str) -> dict[str, str]:
    token = issue_local_token(
        CommonSettings(), tenant=tenant, sub=sub, roles=list(roles) or ["employee"]
    )
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- KPI webhooks


def point(
    pid: str, metric: str, value: float, *, at: datetime | None = None, **dims: str
) -> dict[str, Any]:
    return {
        "id": pid,
        "metric": metric,
        "value": value,
        "timestamp": (at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "dimensions": dims,
    }


@dataclass
class KpiSource:
    """A generic-format webhook source of kpi_ingest and how to sign for it."""

    base_url: str
    tenant: str
    id: str
    secret: str

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/webhooks/{self.id}"

    def signed(
        self,
        points: list[dict[str, Any]],
        webhook_id: str,
        *,
        at: datetime | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"datapoints": points}, separators=(",", ":"))
        at = at or datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            **signed_headers(secret or self.secret, body, msg_id=webhook_id, at=at),
        }
        return body.encode(), headers


async def create_source(client: httpx.AsyncClient, base_url: str, tenant: str) -> KpiSource:
    r = await client.post(
        f"{base_url}/v1/sources",
        json={"name": "chaos", "format": "generic"},
        headers=auth(tenant, "chaos-admin", "admin"),
    )
    if r.status_code != 201:
        raise ChaosError(f"creating a source answered {r.status_code}: {r.text}")
    body = r.json()
    return KpiSource(base_url, tenant, body["id"], body["secret"])


async def create_sum_goal(
    client: httpx.AsyncClient,
    base_url: str,
    tenant: str,
    owner: str,
    metric: str,
    filters: dict[str, str],
    *,
    aggregation: str = "sum",
    target: float = 1_000_000,
) -> str:
    """An active goal whose one key result is bound to ``metric`` (sum or latest).

    Its period starts a week ago: a ``sum`` counts only the points of its period, which by
    default starts the day it is activated (UTC), and scenarios send points up to two hours
    old (run after midnight, most of them were yesterday's)."""
    r = await client.post(
        f"{base_url}/v1/goals",
        json={
            "title": f"chaos {metric} {aggregation} {filters}",
            "horizon": "short_term",
            "status": "active",
            "start_date": (datetime.now(UTC) - timedelta(days=7)).date().isoformat(),
            "key_results": [
                {
                    "id": "kr",
                    "title": f"{metric} ({aggregation})",
                    "start": 0,
                    "target": target,
                    "source": {
                        "kpi": {"metric": metric, "filters": filters, "aggregation": aggregation}
                    },
                }
            ],
        },
        headers=auth(tenant, owner),
    )
    if r.status_code != 201:
        raise ChaosError(f"creating a goal answered {r.status_code}: {r.text}")
    return str(r.json()["id"])


async def goal_state(
    client: httpx.AsyncClient, base_url: str, tenant: str, owner: str, goal_id: str
) -> tuple[float, float]:
    """(key result current, goal progress) as the goals API shows them."""
    r = await client.get(f"{base_url}/v1/goals/{goal_id}", headers=auth(tenant, owner))
    r.raise_for_status()
    body = r.json()
    return float(body["key_results"][0]["current"]), float(body["progress"])


def expected_progress(current: float, target: float) -> float:
    return round(min(1.0, max(0.0, current / target)), 6)


def datapoint_ids(records: Iterable[ConsumerRecord[Any, Any]]) -> list[str]:
    """``source_event_id`` of each kpi.datapoint.recorded record (the sender's point id)."""
    out = []
    for record in records:
        headers = dict(record.headers)
        if headers.get("ce_type", b"").decode() != "northstar.kpi.datapoint.recorded.v1":
            continue
        out.append(str(json.loads(record.value)["source_event_id"]))
    return out


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}
