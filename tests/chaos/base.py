"""What every scenario shares: durations, results with counts, checks, common set-ups."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from services.kpi_ingest.domain import DataPoint
from services.kpi_ingest.events import datapoint_recorded
from shared.events import deterministic_id
from shared.events.envelope import to_record
from tests.chaos.harness import (
    Cluster,
    KpiSource,
    Scope,
    Service,
    create_source,
    create_sum_goal,
    goal_state,
    log,
)


@dataclass(frozen=True)
class Profile:
    """How long and how hard: ``full`` for ``make chaos``, ``reduced`` for ``make test``."""

    name: str
    outage_s: float  # broker and document-store outages
    phase_s: float  # load before and after a fault
    rate: float  # webhook deliveries per second at the ingest edge
    goal_rate: float  # deliveries per second where goals consume (it is the slow consumer)
    points: int  # distinct data points in the duplicates scenario
    kills: int  # kill -9 rounds
    webhook_events: int  # notifications in the webhook-receiver scenario
    drain_s: float  # how long senders keep retrying open deliveries after the load stops

    def scaled(self, factor: float) -> Profile:
        return replace(
            self,
            outage_s=max(2.0, self.outage_s * factor),
            phase_s=max(2.0, self.phase_s * factor),
        )


FULL = Profile(
    "full",
    outage_s=20,
    phase_s=8,
    rate=40,
    goal_rate=10,
    points=160,
    kills=2,
    webhook_events=16,
    drain_s=40,
)
REDUCED = Profile(
    "reduced",
    outage_s=4,
    phase_s=3,
    rate=20,
    goal_rate=8,
    points=60,
    kills=1,
    webhook_events=8,
    drain_s=15,
)


@dataclass
class Result:
    name: str
    title: str
    passed: bool = False
    counts: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, **values: Any) -> None:
        self.counts.update(values)

    def expect(self, ok: bool, failure: str) -> None:
        if not ok:
            self.failures.append(failure)

    def summary(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts.items())
        mark = "PASS" if self.passed else "FAIL"
        text = f"{mark} {self.name} ({self.seconds:.0f}s): {counts}"
        for failure in self.failures:
            text += f"\n       - {failure}"
        return text


Scenario = Callable[[Cluster, Profile, Result], Awaitable[None]]


@dataclass
class Stack:
    """kpi_ingest (and goals) of one scenario, with a tenant and a signed source."""

    scope: Scope
    tenant: str
    owner: str
    ingest: Service
    goals: Service | None
    source: KpiSource
    http: httpx.AsyncClient

    async def goal(self, metric: str, filters: dict[str, str], aggregation: str = "sum") -> str:
        assert self.goals is not None
        return await create_sum_goal(
            self.http, self.goals.url, self.tenant, self.owner, metric, filters,
            aggregation=aggregation,
        )  # fmt: skip

    async def state(self, goal_id: str) -> tuple[float, float]:
        assert self.goals is not None
        return await goal_state(self.http, self.goals.url, self.tenant, self.owner, goal_id)


async def start_stack(
    cluster: Cluster,
    scope: Scope,
    http: httpx.AsyncClient,
    *,
    goals: bool = True,
    kpi_consumers: bool = True,
    **kpi_settings: Any,
) -> Stack:
    ingest = cluster.service(
        "kpi_ingest",
        scope,
        rate_limit_per_s=10_000,
        rate_limit_burst=10_000,
        consumers_enabled=kpi_consumers,
        cache_ttl_s=60,
        **kpi_settings,
    )
    goals_svc = cluster.service("goals", scope, scheduler_enabled=False) if goals else None
    started = time.monotonic()
    await ingest.start()
    if goals_svc is not None:
        await goals_svc.start()
    log(f"{scope.name}: services up in {time.monotonic() - started:.1f}s")
    tenant = f"chaos-{uuid.uuid4().hex[:8]}"
    source = await create_source(http, ingest.url, tenant)
    return Stack(scope, tenant, "pm-1", ingest, goals_svc, source, http)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def publish_points(
    cluster: Cluster, scope: Scope, source: KpiSource, points: list[dict[str, Any]]
) -> None:
    """Data points straight onto the topic, as kpi_ingest would have published them."""
    producer = await cluster.producer()
    now = datetime.now(UTC)
    for p in points:
        dp = DataPoint(
            id=deterministic_id(source.id, p["id"], p["metric"]),
            tenant=source.tenant,
            metric=p["metric"],
            value=float(p["value"]),
            timestamp=datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00")),
            dimensions=dict(p["dimensions"]),
            source_id=source.id,
            source_event_id=p["id"],
        )
        key, value, headers = to_record(datapoint_recorded(dp, now))
        await producer.send(scope.datapoints, value=value, key=key, headers=headers)
    await producer.flush()


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter's samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


async def scrape(http: httpx.AsyncClient, service: Service, name: str, **labels: str) -> float:
    r = await http.get(f"{service.url}/metrics")
    return metric_total(r.text, name, **labels)


def shuffled(items: list[Any], seed: int) -> list[Any]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
