"""Scenarios on the consuming side: a killed goals service, a stopped store, poison records."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

from services.kpi_ingest.domain import DataPoint
from services.kpi_ingest.events import datapoint_recorded
from shared.events import deterministic_id
from shared.events.envelope import to_record
from tests.chaos.base import Profile, Result, dumps, publish_points, scrape, start_stack
from tests.chaos.harness import (
    Cluster,
    KpiSource,
    Scope,
    datapoint_ids,
    expected_progress,
    log,
    point,
)
from tests.chaos.load import Load

PRODUCTS = ["p0", "p1", "p2"]


class Points:
    """Generated points by id, so expectations come from what Kafka actually holds."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}

    def new(self, pid: str, value: int, product: str) -> dict[str, Any]:
        p = point(pid, "revenue", value, product=product)
        self.by_id[pid] = p
        return p

    def sums(self, ids: set[str], products: list[str]) -> dict[str, float]:
        return {
            prod: float(
                sum(
                    p["value"]
                    for i, p in self.by_id.items()
                    if i in ids and p["dimensions"]["product"] == prod
                )
            )
            for prod in products
        }


async def kill_goals(cluster: Cluster, profile: Profile, result: Result) -> None:
    """kill -9 of goals mid-stream: progress equals the distinct accepted points, exactly."""
    scope = Scope("s4-kill-goals")
    async with httpx.AsyncClient(timeout=15) as http:
        stack = await start_stack(cluster, scope, http)
        assert stack.goals is not None
        goals = {p: await stack.goal("revenue", {"product": p}) for p in PRODUCTS}
        gen = Points()
        resent = 0

        def make(n: int) -> list[dict[str, Any]]:
            # half the points move a goal, the others are another product's
            nonlocal resent
            pts = [gen.new(f"g{n}", 1 + n % 5, PRODUCTS[n % 3] if n % 2 else "other")]
            if n % 4 == 3:  # a point already sent, again in a new delivery
                pts.append(gen.by_id[f"g{n - 3}"])
                resent += 1
            return pts

        load = Load(stack.source, make, rate=profile.goal_rate, request_timeout=8)
        load.start()
        for _ in range(profile.kills):
            await asyncio.sleep(profile.phase_s)
            lag = await cluster.group_lag(scope.group("goals"), scope.datapoints)
            await stack.goals.kill()
            log(f"s4: kill -9 goals with a lag of {lag}")
            await asyncio.sleep(2.0)
            await stack.goals.start()
        await asyncio.sleep(profile.phase_s)
        await load.stop(drain_timeout=profile.drain_s)
        await cluster.caught_up(scope.group("goals"), scope.datapoints, 120)
        in_kafka = datapoint_ids(await cluster.read_topic(scope.datapoints))
        states = {p: await stack.state(g) for p, g in goals.items()}

    kafka = set(in_kafka)
    accepted = set(load.accepted_ids())
    want = gen.sums(kafka, PRODUCTS)
    got = {p: s[0] for p, s in states.items()}
    diff = sum(got[p] - want[p] for p in PRODUCTS)
    result.count(
        deliveries=len(load.deliveries),
        points_sent=sum(len(d.points) for d in load.deliveries),
        resent_points=resent,
        accepted_distinct=len(accepted),
        kafka_records=len(in_kafka),
        kafka_distinct=len(kafka),
        kills=profile.kills,
        lost_or_double=diff,
        sums=f"{got}",
    )
    result.expect(accepted <= kafka, f"{len(accepted - kafka)} accepted points not in Kafka")
    result.expect(not load.unaccepted(), f"{len(load.unaccepted())} deliveries never accepted")
    for prod in PRODUCTS:
        result.expect(got[prod] == want[prod], f"goal {prod}: {got[prod]} != {want[prod]}")
        result.expect(
            states[prod][1] == expected_progress(want[prod], 1_000_000),
            f"goal {prod}: progress {states[prod][1]}",
        )


async def document_store_outage(cluster: Cluster, profile: Profile, result: Result) -> None:
    """The store stopped: consumers pause and retry; nothing dead-lettered, nothing lost."""
    scope = Scope("s6-store")
    async with httpx.AsyncClient(timeout=15) as http:
        stack = await start_stack(cluster, scope, http)
        assert stack.goals is not None
        products = PRODUCTS[:2]
        goals = {p: await stack.goal("revenue", {"product": p}) for p in products}
        gen = Points()

        def make(n: int) -> list[dict[str, Any]]:
            return [gen.new(f"w{n}", 1 + n % 3, products[n % 2] if n % 3 == 0 else "other")]

        load = Load(stack.source, make, rate=profile.goal_rate, request_timeout=8)
        load.start()
        await asyncio.sleep(profile.phase_s)
        await cluster.stop_store()
        down_at = time.monotonic()
        log(f"s6: document store stopped; down for {profile.outage_s:.0f}s")
        # points accepted before the outage by another ingest replica, arriving now
        direct = [gen.new(f"d{i}", 2, products[i % 2]) for i in range(40)]
        for i in range(0, len(direct), 10):
            await publish_points(cluster, scope, stack.source, direct[i : i + 10])
            await asyncio.sleep(profile.outage_s / 5)
        await asyncio.sleep(max(0.0, profile.outage_s - (time.monotonic() - down_at)))
        restart_at = time.monotonic()
        await cluster.start_store()
        up_at = time.monotonic()
        log(f"s6: document store back after {up_at - down_at:.1f}s")
        await asyncio.sleep(profile.phase_s)
        await load.stop(drain_timeout=profile.drain_s)
        await cluster.caught_up(scope.group("goals"), scope.datapoints, 120)
        await cluster.caught_up(scope.group("kpi-series"), scope.datapoints, 120)
        in_kafka = datapoint_ids(await cluster.read_topic(scope.datapoints))
        dlq = await cluster.read_topic(scope.datapoints_dlq)
        got = {p: (await stack.state(g))[0] for p, g in goals.items()}
        kpi_db = cluster.mongo[scope.database("kpi_ingest")]
        stored = await kpi_db["datapoints"].count_documents({"tenant": stack.tenant})
        retried = await scrape(http, stack.goals, "northstar_events_retried_total")
        retried_kpi = await scrape(http, stack.ingest, "northstar_events_retried_total")
        alive = stack.goals.alive() and stack.ingest.alive()

    kafka = set(in_kafka)
    want = gen.sums(kafka, products)
    during = load.attempts_between(down_at + 1, restart_at)
    result.count(
        webhook_deliveries=len(load.deliveries),
        outage_answers=dict(during),
        direct_points=len(direct),
        kafka_distinct=len(kafka),
        stored=stored,
        retries_goals=int(retried),
        retries_kpi=int(retried_kpi),
        dead_lettered=len(dlq),
        lost=len(set(load.accepted_ids()) - kafka),
        sums=f"{got}",
    )
    result.expect(alive, "a service died during the outage")
    result.expect(not dlq, f"{len(dlq)} records dead-lettered")
    result.expect(retried > 0, "the goals consumer never retried (did it see the outage?)")
    result.expect(got == want, f"goal sums {got} != distinct points in Kafka {want}")
    result.expect(stored == len(kafka), f"series stored {stored} != {len(kafka)} distinct")
    result.expect(set(load.accepted_ids()) <= kafka, "accepted points missing from Kafka")
    result.expect(not load.unaccepted(), f"{len(load.unaccepted())} deliveries never accepted")
    # webhook-ids are checked in memory and written behind: ingest may go on answering 202
    # while the store is down (its points are in Kafka); it must never answer a 500
    result.expect(
        not (set(during) - {"200", "202", "503", "429"}),
        f"kpi_ingest answered an error other than 503 while the store was down: {dict(during)}",
    )


def _datapoint_record(
    source: KpiSource, p: dict[str, Any]
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
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
    key, value, headers = to_record(datapoint_recorded(dp, datetime.now(UTC)))
    return key, value, headers


def _with(headers: list[tuple[str, bytes]], **changes: str | None) -> list[tuple[str, bytes]]:
    out = [(k, v) for k, v in headers if k not in changes]
    out += [(k, v.encode()) for k, v in changes.items() if v is not None]
    return out


async def poison_records(cluster: Cluster, profile: Profile, result: Result) -> None:
    """Unreadable records go to the DLQ once per consumer group; valid ones are applied."""
    scope = Scope("s7-poison")
    async with httpx.AsyncClient(timeout=15) as http:
        stack = await start_stack(cluster, scope, http)
        goal = await stack.goal("revenue", {"product": "s7"})
        valid = [point(f"v{i}", "revenue", 1 + i % 3, product="s7") for i in range(20)]
        key, template_value, template = _datapoint_record(
            stack.source, point("tpl", "revenue", 1, product="s7")
        )

        def fresh(**changes: str | None) -> list[tuple[str, bytes]]:
            return _with(template, ce_id=str(uuid.uuid4()), **changes)

        bad_payload = dumps({"id": "x", "tenant": stack.tenant, "metric": "revenue",
                             "value": "not a number"})  # fmt: skip
        poison: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = [
            ("value not JSON", b"{not json", fresh()),
            ("no CloudEvents headers", template_value, []),
            ("unknown specversion", template_value, fresh(ce_specversion="0.3")),
            ("payload breaks the schema", bad_payload, fresh()),
            ("value a JSON array", b"[1, 2, 3]", fresh()),
            ("ce_time not RFC 3339", template_value, fresh(ce_time="yesterday")),
        ]
        skipped = ("unknown event type", template_value,
                   fresh(ce_type="northstar.kpi.mystery.v1"))  # fmt: skip
        # valid points interleaved with the poison, all on one key (one partition, in order)
        records: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = []
        for i, p in enumerate(valid):
            _, value, headers = _datapoint_record(stack.source, p)
            records.append(("valid", value, headers))
            if i % 3 == 1 and poison:
                records.append(poison.pop(0))
        records += poison
        records.insert(5, skipped)
        producer = await cluster.producer()
        for case, value, headers in records:
            await producer.send(
                scope.datapoints,
                key=key,
                value=value,
                headers=[*headers, ("chaos_case", case.encode())],
            )
        await producer.flush()
        await cluster.caught_up(scope.group("goals"), scope.datapoints, 90)
        await cluster.caught_up(scope.group("kpi-series"), scope.datapoints, 90)
        dlq = await cluster.read_topic(scope.datapoints_dlq)
        current, _ = await stack.state(goal)
        kpi_db = cluster.mongo[scope.database("kpi_ingest")]
        stored = await kpi_db["datapoints"].count_documents({"tenant": stack.tenant})

    poison_cases = sorted(c for c, _, _ in records if c not in {"valid", skipped[0]})
    by_group: dict[str, list[str]] = {}
    for rec in dlq:
        h = dict(rec.headers)
        by_group.setdefault(h.get("dlq_consumer_group", b"?").decode(), []).append(
            h.get("chaos_case", b"?").decode()
        )
    want_sum = float(sum(p["value"] for p in valid))
    result.count(
        published=len(records),
        valid=len(valid),
        poison=len(poison_cases),
        skipped_type=1,
        dead_lettered=len(dlq),
        dlq_by_group={g: len(c) for g, c in by_group.items()},
        stored=stored,
        sum_goal=current,
        sum_expected=want_sum,
    )
    for group in ("goals", "kpi-series"):
        got = sorted(by_group.get(group, []))
        result.expect(got == poison_cases, f"DLQ of {group}: {Counter(got)} != {poison_cases}")
    result.expect(set(by_group) <= {"goals", "kpi-series"}, f"unexpected groups {set(by_group)}")
    result.expect(current == want_sum, f"goal {current} != sum of valid points {want_sum}")
    result.expect(stored == len(valid), f"series stored {stored} != {len(valid)} valid points")
