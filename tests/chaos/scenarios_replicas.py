"""Two replicas of kpi_ingest and of goals on one store, one of each killed under load; two of
notifications, one killed mid-stream.

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
from collections import Counter, defaultdict
from typing import Any

import httpx

from shared.events import new_event, topics
from shared.events.envelope import to_record
from shared.events.goals import GoalMilestoneReached
from tests.chaos.base import Profile, Result, scrape
from tests.chaos.harness import (
    ChaosError,
    Cluster,
    Scope,
    auth,
    create_source,
    create_sum_goal,
    datapoint_ids,
    eventually,
    expected_progress,
    goal_state,
    log,
)
from tests.chaos.load import Load
from tests.chaos.scenarios_consumers import Points
from tests.chaos.scenarios_webhooks import Receiver

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


async def two_notification_replicas(cluster: Cluster, profile: Profile, result: Result) -> None:
    """kill -9 of one notifications replica of two: every celebration in the inbox once,
    every webhook under one webhook-id, and the stream on the survivor shows what both wrote."""
    scope = Scope("s10-notify")
    receiver = Receiver()
    server, port = receiver.serve()
    # one owner: whatever replica a wrote before it died is theirs, so their stream on replica
    # b shows items b never wrote (it finds them in the store, not in its own memory)
    owners = ["pm-0"]
    watched = owners[0]
    try:
        replicas = [
            cluster.service(
                "notifications",
                scope,
                replica=r,
                outbound_allow_list=["127.0.0.1"],
                retry_schedule_s=[0, 0.5, 1, 1, 1, 1, 1, 1],
                worker_poll_interval_s=0.2,
                sse_poll_interval_s=0.5,
            )
            for r in "ab"
        ]
        await asyncio.gather(*(svc.start() for svc in replicas))
        tenant = f"chaos-{scope.name}-{scope.run}"
        async with httpx.AsyncClient(timeout=15) as http:
            r = await http.post(
                f"{replicas[0].url}/v1/webhook-subscriptions",
                json={"url": f"http://127.0.0.1:{port}/hook",
                      "event_types": [GoalMilestoneReached.event_type]},
                headers=auth(tenant, "chaos-admin", "admin"),
            )  # fmt: skip
            if r.status_code != 201:
                raise AssertionError(f"subscribing answered {r.status_code}: {r.text}")
            receiver.secret = r.json()["secret"]
            # the watched owner's stream is open on replica b from the start
            streamed: list[str] = []
            stream = asyncio.create_task(_follow(http, replicas[1].url, tenant, watched, streamed))
            await asyncio.sleep(1.0)
            events = [
                new_event(
                    GoalMilestoneReached(
                        goal_id=f"goal-{i}",
                        tenant=tenant,
                        owner_id=owners[i % len(owners)],
                        title=f"Goal {i}",
                        horizon="short_term",
                        status="active",
                        progress=0.5,
                        milestone="0.5",
                        threshold=0.5,
                    ),
                    tenant=tenant,
                    subject=f"goal-{i}",
                    source="chaos",
                )
                for i in range(profile.webhook_events * 4)
            ]
            half = len(events) // 2
            producer = await cluster.producer()
            topic = scope.topic(topics.GOALS)

            async def publish(batch: list[Any]) -> None:
                for event in batch:
                    key, value, headers = to_record(event)
                    await producer.send(topic, key=key, value=value, headers=headers)
                await producer.flush()

            await publish(events[:half])

            async def both_consumed() -> list[float] | None:
                counts = [
                    await scrape(http, svc, CONSUMED, type=GoalMilestoneReached.event_type)
                    for svc in replicas
                ]
                return counts if all(c > 0 for c in counts) else None

            consumed_before_kill = await eventually(
                both_consumed, "both replicas consuming", 60, 0.2
            )
            log(f"s10: kill -9 of notifications-a; consumed so far {consumed_before_kill}")
            await replicas[0].kill()
            await publish(events[half:])
            await cluster.caught_up(scope.group("notifications"), topic, 90)
            wanted = {e.id for e in events}

            async def all_delivered() -> bool:
                with receiver.lock:
                    done = {c.event_id or "" for c in receiver.calls if 200 <= c.answer < 300}
                return done >= wanted

            try:
                await eventually(all_delivered, "every event delivered", 60, 0.5)
            except ChaosError as exc:
                result.failures.append(str(exc))
            db = cluster.mongo[scope.database("notifications")]
            mine = {
                d["_id"]
                async for d in db["notifications"].find(
                    {"tenant": tenant, "recipient_id": watched, "in_inbox": True}
                )
            }

            async def all_streamed() -> bool:
                return mine <= set(streamed)

            try:
                await eventually(all_streamed, "the stream on b shows every item", 20, 0.5)
            except ChaosError as exc:
                result.failures.append(str(exc))
            await asyncio.sleep(2.0)  # would anything arrive twice?
            stream.cancel()
            rows = [d async for d in db["notifications"].find({"tenant": tenant, "in_inbox": True})]
    finally:
        server.shutdown()
        server.server_close()

    per_item = Counter((row["event_id"], row["recipient_id"]) for row in rows)
    ids_per_event: dict[str, set[str]] = defaultdict(set)
    for call in receiver.calls:
        ids_per_event[call.event_id or ""].add(call.webhook_id)
    result.count(
        events=len(events),
        consumed_by_replica_before_kill=consumed_before_kill,
        inbox_items=len(rows),
        inbox_items_twice=sum(1 for n in per_item.values() if n > 1),
        webhook_calls=len(receiver.calls),
        events_with_two_webhook_ids=sum(1 for ids in ids_per_event.values() if len(ids) > 1),
        watched_items=len(mine),
        streamed_on_b=len(set(streamed)),
    )
    expected = {(e.id, e.data["owner_id"]) for e in events}
    result.expect(set(per_item) == expected, f"{len(expected - set(per_item))} items missing")
    result.expect(all(n == 1 for n in per_item.values()), "an inbox item was written twice")
    result.expect(
        all(len(ids) == 1 for ids in ids_per_event.values()), "an event got two webhook-ids"
    )
    result.expect(len(mine) == len(events) // len(owners), f"watched owner has {len(mine)} items")
    result.expect(mine <= set(streamed), f"{len(mine - set(streamed))} items not streamed")


async def _follow(
    http: httpx.AsyncClient, base_url: str, tenant: str, person: str, seen: list[str]
) -> None:
    """Collect the ids of the inbox items a person's stream sends, until cancelled."""
    async with http.stream(
        "GET", f"{base_url}/v1/inbox/stream", headers=auth(tenant, person), timeout=None
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                seen.append(line[4:].strip())
