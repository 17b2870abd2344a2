"""Two replicas of kpi_ingest and of goals on one store; one of each killed under load.

What must hold with more than one replica (issue 13, item 4): the goals consumers split the
topic's partitions, and when one replica dies the other takes its partitions over and applies
what it had not committed, without counting anything twice; a delivery accepted by one ingest
replica is a duplicate at the other (webhook-ids are shared through the store); and every update
of a goal document keeps its effect although two processes write to the same collection (the
local store compares and swaps, ``deploy/local/ferretdb.patch``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx

from tests.chaos.base import Profile, Result, scrape
from tests.chaos.harness import (
    Cluster,
    Scope,
    create_source,
    create_sum_goal,
    datapoint_ids,
    expected_progress,
    goal_state,
    log,
)
from tests.chaos.load import Load
from tests.chaos.scenarios_consumers import Points

PRODUCTS = ["p0", "p1", "p2", "p3", "p4", "p5"]
CONSUMED = "northstar_events_consumed_total"
DATAPOINT_RECORDED = "northstar.kpi.datapoint.recorded.v1"


async def two_replicas(cluster: Cluster, profile: Profile, result: Result) -> None:
    """kill -9 of one goals and one kpi_ingest replica of two: nothing lost, nothing twice."""
    scope = Scope("s9-replicas")
    ingest_settings: dict[str, Any] = {
        "rate_limit_per_s": 10_000,
        "rate_limit_burst": 10_000,
        "cache_ttl_s": 60,
    }
    ingest = [cluster.service("kpi_ingest", scope, replica=r, **ingest_settings) for r in "ab"]
    goals = [cluster.service("goals", scope, replica=r, scheduler_enabled=False) for r in "ab"]
    await asyncio.gather(*(svc.start() for svc in (*ingest, *goals)))
    tenant, owner = f"chaos-{scope.name}", "pm-1"
    async with httpx.AsyncClient(timeout=15) as http:
        source = await create_source(http, ingest[0].url, tenant)
        goal_ids = {}
        for n, product in enumerate(PRODUCTS):
            goal_ids[product] = await create_sum_goal(
                http, goals[n % 2].url, tenant, owner, "revenue", {"product": product}
            )
        gen = Points()

        def maker(replica: str) -> Any:
            def make(n: int) -> list[dict[str, Any]]:
                return [gen.new(f"{replica}{n}", 1 + n % 5, PRODUCTS[n % len(PRODUCTS)])]

            return make

        loads = [
            Load(
                dataclasses.replace(source, base_url=svc.url),
                maker(svc.label[-1]),
                rate=profile.goal_rate / 2,
                request_timeout=8,
            )
            for svc in ingest
        ]
        for load in loads:
            load.start()
        await asyncio.sleep(profile.phase_s)
        consumed_before_kill = [
            await scrape(http, svc, CONSUMED, type=DATAPOINT_RECORDED, outcome="ok")
            for svc in goals
        ]
        log(f"s9: kill -9 of goals-a and kpi_ingest-a; consumed so far {consumed_before_kill}")
        await asyncio.gather(goals[0].kill(), ingest[0].kill())
        await asyncio.sleep(2.0)
        await ingest[0].start()  # as an orchestrator restarts it; goals-a stays dead
        await asyncio.sleep(profile.phase_s)
        for load in loads:
            await load.stop(drain_timeout=profile.drain_s)
        await cluster.caught_up(scope.group("goals"), scope.datapoints, 120)
        records_before_resend = len(await cluster.read_topic(scope.datapoints))

        # deliveries accepted by one replica, sent again (same webhook-id, a fresh signature)
        # to the other, once the journal has had time to carry them across
        await asyncio.sleep(3.0)
        resent = [
            (loads[i], delivery)
            for i in (0, 1)
            for delivery in [d for d in loads[i].deliveries if d.accepted][:10]
        ]
        answers = []
        for load, delivery in resent:
            other = (loads[1] if load is loads[0] else loads[0]).source
            body, headers = other.signed(delivery.points, delivery.webhook_id)
            answer = await http.post(other.url, content=body, headers=headers)
            answers.append(answer.status_code)
            if answer.status_code != 202:
                log(f"s9: resend of {delivery.webhook_id} to {other.base_url}: {answer.text}")
        await asyncio.sleep(2.0)
        records = await cluster.read_topic(scope.datapoints)
        states = {
            p: await goal_state(http, goals[1].url, tenant, owner, g) for p, g in goal_ids.items()
        }

    kafka = set(datapoint_ids(records))
    accepted = {pid for load in loads for pid in load.accepted_ids()}
    want = gen.sums(kafka, PRODUCTS)
    got = {p: s[0] for p, s in states.items()}
    result.count(
        deliveries=sum(len(load.deliveries) for load in loads),
        accepted_distinct=len(accepted),
        kafka_distinct=len(kafka),
        consumed_by_replica_before_kill=consumed_before_kill,
        resent_to_other_replica=len(resent),
        resend_answers=sorted({str(a) for a in answers}),
        records_added_by_resend=len(records) - records_before_resend,
        lost_or_double=sum(got[p] - want[p] for p in PRODUCTS),
    )
    result.expect(
        all(n > 0 for n in consumed_before_kill),
        f"both goals replicas should consume (split partitions): {consumed_before_kill}",
    )
    result.expect(accepted <= kafka, f"{len(accepted - kafka)} accepted points not in Kafka")
    result.expect(
        not any(load.unaccepted() for load in loads),
        f"{sum(len(load.unaccepted()) for load in loads)} deliveries never accepted",
    )
    result.expect(
        all(a == 202 for a in answers), f"resent deliveries answered {sorted(map(str, answers))}"
    )
    added = len(records) - records_before_resend
    result.expect(added == 0, f"resending accepted deliveries to the other replica added {added}")
    for prod in PRODUCTS:
        result.expect(got[prod] == want[prod], f"goal {prod}: {got[prod]} != {want[prod]}")
        result.expect(
            states[prod][1] == expected_progress(want[prod], 1_000_000),
            f"goal {prod}: progress {states[prod][1]}",
        )
