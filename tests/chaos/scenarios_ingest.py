"""Scenarios at the webhook edge: duplicates, signatures, a killed ingest, a stopped broker."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.webhooks import new_secret
from tests.chaos.base import Profile, Result, shuffled, start_stack
from tests.chaos.harness import (
    Cluster,
    Scope,
    datapoint_ids,
    expected_progress,
    log,
    point,
)
from tests.chaos.load import Load

S1_PRODUCTS = ["s1-a", "s1-b", "s1-c", "s1-d"]


async def duplicates_and_reordering(cluster: Cluster, profile: Profile, result: Result) -> None:
    """Each point sent several times, in shuffled order, by webhook and by Kafka redelivery."""
    scope = Scope("s1-dups")
    async with httpx.AsyncClient(timeout=15) as http:
        stack = await start_stack(cluster, scope, http)
        # four goals share the revenue points (a goal document grows with every point)
        sum_goals = {q: await stack.goal("revenue", {"product": q}) for q in S1_PRODUCTS}
        latest_goal = await stack.goal("adoption_rate", {"product": "s1"}, "latest")
        rng = random.Random(7)
        base = datetime.now(UTC) - timedelta(hours=2)
        revenue = [
            point(f"rev-{i}", "revenue", rng.randint(1, 9), at=base + timedelta(seconds=i),
                  product=S1_PRODUCTS[i % len(S1_PRODUCTS)])
            for i in range(profile.points)
        ]  # fmt: skip
        adoption = [
            point(f"adopt-{i}", "adoption_rate", rng.randint(0, 10_000) / 100,
                  at=base + timedelta(seconds=i), product="s1")
            for i in range(profile.points // 4)
        ]  # fmt: skip
        distinct = revenue + adoption
        # every point once in shuffled batches of 1-6; 30 % again in other deliveries (new
        # webhook-ids); 20 % of the deliveries sent twice under the same webhook-id
        order = shuffled(distinct, 2)
        batches: list[list[dict[str, Any]]] = []
        i = 0
        while i < len(order):
            size = rng.randint(1, 6)
            batches.append(order[i : i + size])
            i += size
        again = rng.sample(distinct, len(distinct) * 3 // 10)
        batches += [again[j : j + 3] for j in range(0, len(again), 3)]
        sends = [(f"msg_s1_{k}", pts) for k, pts in enumerate(batches)]
        sends = shuffled(sends + rng.sample(sends, len(sends) // 5), 3)

        statuses: Counter[int] = Counter()
        gate = asyncio.Semaphore(8)

        async def send(webhook_id: str, pts: list[dict[str, Any]]) -> None:
            body, headers = stack.source.signed(pts, webhook_id)
            async with gate:
                r = await http.post(stack.source.url, content=body, headers=headers)
            statuses[r.status_code] += 1

        await asyncio.gather(*(send(w, p) for w, p in sends))
        # broker-level redelivery: a tenth of the records published again as they are
        records = await cluster.read_topic(scope.datapoints)
        replay = rng.sample(records, len(records) // 10)
        producer = await cluster.producer()
        for rec in replay:
            await producer.send(
                scope.datapoints, value=rec.value, key=rec.key, headers=list(rec.headers)
            )
        await producer.flush()

        await cluster.caught_up(scope.group("goals"), scope.datapoints, 120)
        await cluster.caught_up(scope.group("kpi-series"), scope.datapoints, 120)
        in_kafka = datapoint_ids(await cluster.read_topic(scope.datapoints))
        kpi_db = cluster.mongo[scope.database("kpi_ingest")]
        stored = await kpi_db["datapoints"].count_documents({"tenant": stack.tenant})
        want = {
            q: float(sum(p["value"] for p in revenue if p["dimensions"]["product"] == q))
            for q in S1_PRODUCTS
        }
        want_latest = float(max(adoption, key=lambda p: p["timestamp"])["value"])
        states = {q: await stack.state(g) for q, g in sum_goals.items()}
        got_latest, _ = await stack.state(latest_goal)

    result.count(
        deliveries=len(sends),
        points_sent=sum(len(p) for _, p in sends),
        distinct=len(distinct),
        http_202=statuses[202],
        http_200_dup=statuses[200],
        kafka_records=len(in_kafka),
        redelivered=len(replay),
        kafka_distinct=len(set(in_kafka)),
        stored=stored,
        sums_expected=list(want.values()),
        sum_goals=[states[q][0] for q in S1_PRODUCTS],
        latest_expected=want_latest,
        latest_goal=got_latest,
    )
    result.expect(
        set(statuses) <= {200, 202}, f"only 202/200 answers expected, got {dict(statuses)}"
    )
    result.expect(set(in_kafka) == {p["id"] for p in distinct}, "Kafka lacks or invents points")
    result.expect(stored == len(distinct), f"series stored {stored} != {len(distinct)} distinct")
    for q in S1_PRODUCTS:
        got, progress = states[q]
        result.expect(got == want[q], f"sum goal {q}: {got} != {want[q]} (distinct points)")
        result.expect(
            progress == expected_progress(want[q], 1_000_000),
            f"goal {q}: progress {progress} != {expected_progress(want[q], 1_000_000)}",
        )
    result.expect(got_latest == want_latest, f"latest goal {got_latest} != newest {want_latest}")


async def signatures(cluster: Cluster, profile: Profile, result: Result) -> None:
    """Forged, stale, tampered and replayed signatures are 401 and record nothing.

    A correctly signed resend of an id already accepted is a duplicate (202, nothing recorded),
    even once its timestamp is past the tolerance: the sender's first attempt may have timed out.
    """
    scope = Scope("s2-sigs")
    async with httpx.AsyncClient(timeout=15) as http:
        stack = await start_stack(cluster, scope, http, goals=False, kpi_consumers=False)
        src = stack.source

        def pts(name: str) -> list[dict[str, Any]]:
            return [point(name, "revenue", 1, product="s2")]

        now = datetime.now(UTC)
        valid = [src.signed(pts(f"ok-{i}"), f"msg_ok_{i}") for i in range(3)]
        _, headers_a = src.signed(pts("tamper-a"), "msg_tamper")
        body_b, _ = src.signed(pts("tamper-b"), "msg_tamper")
        sig_for_x = src.signed(pts("swap"), "msg_x")[1]
        v2 = dict(src.signed(pts("v2"), "msg_v2")[1])
        v2["webhook-signature"] = v2["webhook-signature"].replace("v1,", "v2,", 1)
        garbage = dict(src.signed(pts("garbage"), "msg_garbage")[1])
        garbage["webhook-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        cases: list[tuple[str, int, bytes, dict[str, str]]] = [
            *[(f"valid {i}", 202, b, h) for i, (b, h) in enumerate(valid)],
            ("forged (another secret)", 401,
             *src.signed(pts("forged"), "msg_forged", secret=new_secret())),
            ("unsigned", 401, src.signed(pts("unsigned"), "msg_unsigned")[0],
             {"content-type": "application/json"}),
            ("garbage signature", 401, src.signed(pts("garbage"), "msg_garbage")[0], garbage),
            ("unknown scheme v2", 401, src.signed(pts("v2"), "msg_v2")[0], v2),
            ("stale (6 min old)", 401,
             *src.signed(pts("stale"), "msg_stale", at=now - timedelta(minutes=6))),
            ("from the future (+6 min)", 401,
             *src.signed(pts("future"), "msg_future", at=now + timedelta(minutes=6))),
            ("tampered body", 401, body_b, headers_a),
            ("replayed headers, new body", 401, src.signed(pts("other"), "x")[0], valid[0][1]),
            ("replayed signature, other id", 401, src.signed(pts("swap"), "msg_y")[0],
             {**sig_for_x, "webhook-id": "msg_y"}),
            ("accepted id resent after the tolerance", 202,
             *src.signed(pts("ok-0"), "msg_ok_0", at=now - timedelta(minutes=5, seconds=5))),
            ("identical replay in tolerance", 202, *valid[0]),
        ]  # fmt: skip
        answers: Counter[int] = Counter()
        duplicates = 0
        for name, want, body, headers in cases:
            r = await http.post(src.url, content=body, headers=headers)
            answers[r.status_code] += 1
            result.expect(r.status_code == want, f"{name}: {r.status_code} (want {want})")
            if name.startswith(("identical replay", "accepted id resent")):
                duplicates += r.json().get("status") == "duplicate"
                result.expect(r.json().get("accepted") == 0, f"{name} accepted again: {r.text}")
        in_kafka = datapoint_ids(await cluster.read_topic(scope.datapoints))

    result.count(
        requests=len(cases),
        http_202=answers[202],
        http_401=answers[401],
        duplicates_202=duplicates,
        kafka_records=len(in_kafka),
    )
    result.expect(
        sorted(in_kafka) == ["ok-0", "ok-1", "ok-2"],
        f"Kafka should hold exactly the 3 valid points once each, holds {sorted(in_kafka)}",
    )


async def kill_ingest(cluster: Cluster, profile: Profile, result: Result) -> None:
    """kill -9 of kpi_ingest under load: every point answered 202 is in Kafka."""
    scope = Scope("s3-kill-ingest")
    async with httpx.AsyncClient(timeout=15) as http:
        stack = await start_stack(cluster, scope, http, goals=False, kpi_consumers=False)

        def make(n: int) -> list[dict[str, Any]]:
            return [point(f"k{n}-{j}", "revenue", 1, product="s3") for j in range(1 + n % 3)]

        load = Load(stack.source, make, rate=profile.rate, request_timeout=5)
        load.start()
        for _ in range(profile.kills):
            await asyncio.sleep(profile.phase_s)
            in_flight = len(load._tasks)
            await stack.ingest.kill()
            log(f"s3: kill -9 kpi_ingest with {in_flight} deliveries in flight")
            await asyncio.sleep(1.0)
            await stack.ingest.start()
        await asyncio.sleep(profile.phase_s)
        await load.stop(drain_timeout=profile.drain_s)
        in_kafka = datapoint_ids(await cluster.read_topic(scope.datapoints))

    sent = {pid for d in load.deliveries for pid in d.point_ids}
    accepted = set(load.accepted_ids())
    kafka = set(in_kafka)
    lost = accepted - kafka
    statuses = load.statuses
    errors = sum(v for k, v in statuses.items() if not k.isdigit())
    result.count(
        deliveries=len(load.deliveries),
        points=len(sent),
        attempts=sum(statuses.values()),
        http_202=statuses["202"],
        http_200_dup=statuses["200"],
        conn_errors=errors,
        kills=profile.kills,
        accepted=len(accepted),
        kafka_records=len(in_kafka),
        kafka_duplicated=len(in_kafka) - len(kafka),
        lost=len(lost),
        unaccepted=len(load.unaccepted()),
    )
    result.expect(not lost, f"{len(lost)} points answered 2xx are not in Kafka: {sorted(lost)[:5]}")
    result.expect(kafka <= sent, "Kafka holds points nobody sent")
    result.expect(not load.unaccepted(), f"{len(load.unaccepted())} deliveries never accepted")
    result.expect(errors > 0 or profile.kills == 0, "the kill interrupted no request")


async def broker_outage(cluster: Cluster, profile: Profile, result: Result) -> None:
    """Kafka stopped under load: 503 while it is down, nothing accepted is lost."""
    scope = Scope("s5-broker")
    async with httpx.AsyncClient(timeout=15) as http:
        stack = await start_stack(cluster, scope, http, publish_timeout_s=3)
        products = ["a", "b"]
        goals = {p: await stack.goal("revenue", {"product": p}) for p in products}
        values: dict[str, tuple[str, int]] = {}

        def make(n: int) -> list[dict[str, Any]]:
            # one point in eight moves a goal (goals is the slow consumer)
            product = products[n // 8 % 2] if n % 8 == 0 else "other"
            p = point(f"b{n}", "revenue", 1 + n % 4, product=product)
            values[p["id"]] = (product, p["value"])
            return [p]

        load = Load(stack.source, make, rate=profile.rate, request_timeout=10)
        load.start()
        await asyncio.sleep(profile.phase_s)
        await cluster.drop_producer()
        await cluster.stop_broker()
        down_at = time.monotonic()
        log(f"s5: broker stopped; down for {profile.outage_s:.0f}s")
        await asyncio.sleep(profile.outage_s)
        restart_at = time.monotonic()
        await cluster.start_broker()
        up_at = time.monotonic()
        log(f"s5: broker back after {up_at - down_at:.1f}s")
        await asyncio.sleep(profile.phase_s)
        await load.stop(drain_timeout=profile.drain_s)
        await cluster.caught_up(scope.group("goals"), scope.datapoints, 120)
        in_kafka = datapoint_ids(await cluster.read_topic(scope.datapoints))
        got = {p: (await stack.state(g))[0] for p, g in goals.items()}

    during = load.attempts_between(down_at + 1.0, restart_at)
    after = load.attempts_between(up_at, time.monotonic())
    accepted = set(load.accepted_ids())
    kafka = set(in_kafka)
    lost = accepted - kafka
    want = {p: float(sum(v for i, (q, v) in values.items() if q == p and i in kafka))
            for p in products}  # fmt: skip
    result.count(
        deliveries=len(load.deliveries),
        attempts=sum(load.statuses.values()),
        outage_s=round(up_at - down_at, 1),
        outage_503=during["503"],
        outage_202=during["202"],
        outage_other=sum(v for k, v in during.items() if k not in {"503", "202"}),
        after_202=after["202"],
        after_other=sum(v for k, v in after.items() if k not in {"202", "200"}),
        accepted=len(accepted),
        kafka_distinct=len(kafka),
        lost=len(lost),
        unaccepted=len(load.unaccepted()),
        goal_sums=f"{got} want {want}",
    )
    result.expect(during["503"] > 0, "no 503 while the broker was down")
    result.expect(during["202"] == 0, f"{during['202']} answers 202 while the broker was down")
    result.expect(
        not (set(during) - {"503", "429"}), f"answers other than 503 during the outage: {during}"
    )
    result.expect(after["202"] > 0, "no 202 after the broker came back")
    result.expect(not lost, f"{len(lost)} accepted points missing from Kafka")
    result.expect(not load.unaccepted(), f"{len(load.unaccepted())} deliveries never accepted")
    result.expect(got == want, f"goal sums {got} != distinct points in Kafka {want}")
