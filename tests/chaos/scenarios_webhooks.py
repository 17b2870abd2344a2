"""A misbehaving webhook receiver: 500s, 429 with Retry-After, and timeouts."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from standardwebhooks import Webhook, WebhookVerificationError

from deploy.local.servers import free_port
from shared.events import new_event
from shared.events.envelope import to_record
from shared.events.goals import GoalMilestoneReached
from tests.chaos.base import Profile, Result
from tests.chaos.harness import ChaosError, Cluster, Scope, auth, eventually, log

HTTP_TIMEOUT_S = 1.5
RETRY_AFTER_S = 2
MODES = ("fail-500", "throttle-429", "timeout", "ok")


@dataclass
class Call:
    at: float
    webhook_id: str
    event_id: str | None
    verified: bool
    answer: int


@dataclass
class Receiver:
    """Answers by the event's mode; counts verified 2xx answers per ``webhook-id``."""

    modes: dict[str, str] = field(default_factory=dict)  # event id -> mode
    secret: str | None = None
    calls: list[Call] = field(default_factory=list)
    arrivals: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, webhook_id: str, event_id: str | None) -> int:
        mode = self.modes.get(event_id or "", "ok")
        with self.lock:  # counted on arrival: a retry may come while a timed-out call hangs
            tries = self.arrivals[webhook_id]
            self.arrivals[webhook_id] += 1
        if mode == "fail-500" and tries < 2:
            return 500
        if mode == "throttle-429" and tries < 1:
            return 429
        if mode == "timeout" and tries < 1:
            return -1
        return 200

    def serve(self) -> tuple[ThreadingHTTPServer, int]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = False
                try:
                    assert receiver.secret is not None
                    Webhook(receiver.secret).verify(body, headers, json_parse=False)
                    verified = True
                except (WebhookVerificationError, AssertionError, ValueError):
                    pass
                try:
                    event_id = json.loads(body).get("id")
                except ValueError:
                    event_id = None
                webhook_id = headers.get("webhook-id", "")
                code = receiver.answer(webhook_id, event_id) if verified else 401
                if code == -1:  # hang past the sender's timeout, then answer an error
                    time.sleep(HTTP_TIMEOUT_S + 1.0)
                    code = 504
                with receiver.lock:
                    receiver.calls.append(Call(time.monotonic(), webhook_id, event_id, verified,
                                               code))  # fmt: skip
                try:
                    self.send_response(code)
                    if code == 429:
                        self.send_header("Retry-After", str(RETRY_AFTER_S))
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        port = free_port()
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, port


async def webhook_receiver(cluster: Cluster, profile: Profile, result: Result) -> None:
    """Retried on 500, 429 (after Retry-After) and timeouts; each webhook-id accepted once."""
    scope = Scope("s8-webhooks")
    receiver = Receiver()
    server, port = receiver.serve()
    try:
        notifications = cluster.service(
            "notifications",
            scope,
            outbound_allow_list=["127.0.0.1"],
            http_timeout_s=HTTP_TIMEOUT_S,
            retry_schedule_s=[0, 0.5, 1, 1, 1, 1, 1, 1],
            max_retry_after_s=10,
            worker_poll_interval_s=0.2,
            # a host whose clock is not UTC: signatures must not depend on the local zone
            TZ="Asia/Kolkata",
        )
        await notifications.start()
        tenant = f"chaos-{uuid.uuid4().hex[:8]}"
        async with httpx.AsyncClient(timeout=15) as http:
            r = await http.post(
                f"{notifications.url}/v1/webhook-subscriptions",
                json={"url": f"http://127.0.0.1:{port}/hook",
                      "event_types": ["northstar.goal.milestone_reached.v1"]},
                headers=auth(tenant, "chaos-admin", "admin"),
            )  # fmt: skip
            if r.status_code != 201:
                raise AssertionError(f"subscribing answered {r.status_code}: {r.text}")
            receiver.secret = r.json()["secret"]
            events = []
            for i in range(profile.webhook_events):
                payload = GoalMilestoneReached(
                    goal_id=f"goal-{i}", tenant=tenant, owner_id=f"pm-{i}", title=f"Goal {i}",
                    horizon="short_term", status="active", progress=0.5, milestone="0.5",
                    threshold=0.5,
                )  # fmt: skip
                event = new_event(payload, tenant=tenant, subject=f"goal-{i}", source="chaos")
                receiver.modes[event.id] = MODES[i % len(MODES)]
                events.append(event)
            producer = await cluster.producer()
            for event in [*events, *events[::3]]:  # a third published twice (redelivery)
                key, value, headers = to_record(event)
                await producer.send(scope.topic(event.topic), key=key, value=value,
                                    headers=headers)  # fmt: skip
            await producer.flush()
            log(f"s8: {len(events)} events published, {len(events[::3])} twice")

            def delivered() -> set[str]:
                with receiver.lock:
                    return {c.event_id or "" for c in receiver.calls if 200 <= c.answer < 300}

            async def all_delivered() -> bool:
                return delivered() >= {e.id for e in events}

            try:
                await eventually(all_delivered, "every event delivered to the receiver", 60, 0.5)
            except ChaosError as exc:
                result.failures.append(str(exc))
            await asyncio.sleep(3.0)  # would anything arrive again?
            db = cluster.mongo[scope.database("notifications")]
            rows = [d async for d in db["deliveries"].find({"tenant": tenant,
                                                            "channel": "webhook"})]  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()

    calls = list(receiver.calls)
    by_id: dict[str, list[Call]] = defaultdict(list)
    for c in calls:
        by_id[c.webhook_id].append(c)
    ids_per_event: dict[str, set[str]] = defaultdict(set)
    for c in calls:
        ids_per_event[c.event_id or ""].add(c.webhook_id)
    accepted_twice = [w for w, cs in by_id.items() if sum(200 <= c.answer < 300 for c in cs) > 1]
    unverified = [c for c in calls if not c.verified]
    mode_of = {w: receiver.modes.get(cs[0].event_id or "", "?") for w, cs in by_id.items()}
    attempts = {m: sorted(len(by_id[w]) for w in by_id if mode_of[w] == m) for m in MODES}
    gaps_429 = [
        round(cs[1].at - cs[0].at, 2)
        for w, cs in by_id.items()
        if mode_of[w] == "throttle-429" and len(cs) > 1
    ]
    status: defaultdict[str, int] = defaultdict(int)
    for row in rows:
        status[row["status"]] += 1
    result.count(
        events=len(events),
        published=len(events) + len(events[::3]),
        calls=len(calls),
        webhook_ids=len(by_id),
        received_once=sum(
            1 for cs in by_id.values() if sum(200 <= c.answer < 300 for c in cs) == 1
        ),
        accepted_twice=len(accepted_twice),
        bad_signatures=len(unverified),
        attempts_by_mode=attempts,
        retry_after_gaps_s=gaps_429,
        deliveries=dict(status),
    )
    result.expect(not unverified, f"{len(unverified)} calls failed signature verification")
    result.expect(len(by_id) == len(events), f"{len(by_id)} webhook-ids for {len(events)} events")
    result.expect(all(len(v) == 1 for v in ids_per_event.values()), "an event got two webhook-ids")
    result.expect(not accepted_twice, f"accepted twice: {accepted_twice}")
    result.expect(all(n == 3 for n in attempts["fail-500"]), f"500s: {attempts['fail-500']}")
    result.expect(all(n == 2 for n in attempts["throttle-429"]), f"429: {attempts['throttle-429']}")
    result.expect(all(n == 2 for n in attempts["timeout"]), f"timeouts: {attempts['timeout']}")
    result.expect(all(n == 1 for n in attempts["ok"]), f"ok: {attempts['ok']}")
    result.expect(
        all(g >= RETRY_AFTER_S - 0.1 for g in gaps_429), f"Retry-After not honoured: {gaps_429}"
    )
    result.expect(dict(status) == {"delivered": len(events)}, f"delivery log says {dict(status)}")
