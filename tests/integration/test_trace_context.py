"""Trace context end to end on the real broker: a webhook's ``traceparent`` reaches the goal events
it causes, as ``ce_traceparent`` with the same trace id, then the notification's outbound webhook
(``traceparent`` header) and its ``notification.delivered`` event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import orjson
import pytest
from fastapi import FastAPI

from services.goals.config import GoalsSettings
from services.goals.main import create_app as goals_app
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app as ingest_app
from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app as notifications_app
from shared.events import Envelope, from_record, topics
from shared.events.notifications import NotificationDelivered
from shared.tracing import trace_id_of
from tests.integration.goals.helpers import of_type
from tests.integration.kpi_ingest.helpers import create_source, read_events, signed
from tests.integration.notifications.receivers import WebhookReceiver
from tests.support import (
    bearer,
    eventually,
    isolated_settings,
    published,
    read_topic,
    running,
    unique,
)

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SENDER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SENDER_SPAN}-01"


def span_of(traceparent: str | None) -> str:
    assert traceparent is not None
    return traceparent.split("-")[2]


async def goal_events(app: FastAPI, expect: Callable[[list[Envelope]], bool]) -> list[Envelope]:
    records = await published(
        app, topics.GOALS, lambda rs: expect([from_record(r.value, list(r.headers)) for r in rs])
    )
    return [from_record(r.value, list(r.headers)) for r in records]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    hooks.start()
    yield hooks
    hooks.stop()


async def test_a_webhooks_trace_continues_through_every_service_it_reaches(
    receiver: WebhookReceiver,
) -> None:
    run_id = unique()
    goals_settings = isolated_settings(GoalsSettings, run_id, scheduler_enabled=False)
    ingest_settings = isolated_settings(KpiIngestSettings, run_id)
    notifications_settings = isolated_settings(
        NotificationsSettings,
        run_id,
        outbound_allow_list=[f"127.0.0.1:{receiver.port}"],
        worker_poll_interval_s=0.1,
    )
    async with (
        running(goals_service := goals_app(goals_settings)) as goals,
        running(ingest_app(ingest_settings)) as ingest,
        running(notifications_app(notifications_settings)) as notifications,
    ):
        subscribed = await notifications.post(
            "/v1/webhook-subscriptions",
            json={"url": receiver.url("/hook"), "event_types": ["northstar.goal.milestone_*"]},
            headers=bearer("acme", "admin", "admin", settings=notifications_settings),
        )
        assert subscribed.status_code == 201, subscribed.text
        pm = bearer("acme", "pm", settings=goals_settings)
        created = await goals.post(
            "/v1/goals",
            headers=pm,
            json={
                "title": "Grow active users",
                "horizon": "short_term",
                "category": "outcome",
                "status": "active",
                "key_results": [
                    {
                        "id": "users",
                        "title": "Active users",
                        "start": 0,
                        "target": 100,
                        "source": {"kpi": {"metric": "active_users", "aggregation": "latest"}},
                    }
                ],
            },
        )
        assert created.status_code == 201, created.text
        goal_id = created.json()["id"]
        # a request that brings no traceparent starts a trace of its own
        [goal_created] = of_type(
            await goal_events(goals_service, lambda es: bool(of_type(es, "created"))),
            "created",
        )
        own_trace = trace_id_of(goal_created.traceparent)
        assert own_trace is not None
        assert own_trace != TRACE_ID

        source_id, secret = await create_source(ingest, "generic")
        point = {
            "id": "p-traced",
            "metric": "active_users",
            "value": 60,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        body = orjson.dumps({"datapoints": [point]})
        headers = {**signed(secret, body), "traceparent": TRACEPARENT}
        response = await ingest.post(f"/v1/webhooks/{source_id}", content=body, headers=headers)
        assert response.status_code == 202, response.text

        [(_, recorded)] = await read_events(ingest_settings, expected=1, source_id=source_id)
        assert trace_id_of(recorded.traceparent) == TRACE_ID
        # the ingest request's own span, a child of the sender's
        assert span_of(recorded.traceparent) != SENDER_SPAN

        events = await goal_events(
            goals_service, lambda es: bool(of_type(es, "milestone_reached", goal_id))
        )
        caused = of_type(events, "progress_updated", goal_id) + of_type(
            events, "milestone_reached", goal_id
        )
        assert caused
        for event in caused:
            assert trace_id_of(event.traceparent) == TRACE_ID, event
            # the consumer's span is a child of the data point's, not the same span
            assert span_of(event.traceparent) != span_of(recorded.traceparent)

        # notifications: the outbound webhook of each milestone the point crossed (0 -> 0.6
        # crosses 0.25 and 0.5), and their delivered events, same trace
        hooks = await eventually(
            lambda: receiver.at("/hook") if len(receiver.at("/hook")) >= 2 else None, timeout=30
        )
        milestones = sorted(json.loads(h.body)["data"]["milestone"] for h in hooks)
        assert milestones == ["0.25", "0.5"]
        for hook in hooks:
            assert trace_id_of(hook.headers.get("traceparent")) == TRACE_ID, hook.headers
        records = await read_topic(
            notifications_settings,
            topics.NOTIFICATIONS,
            enough=lambda found: bool(found),
            timeout=20,
            linger_s=0.2,
        )
        delivered = [from_record(r.value, list(r.headers)) for r in records]
        delivered = [e for e in delivered if e.type == NotificationDelivered.event_type]
        assert delivered
        assert {trace_id_of(e.traceparent) for e in delivered} == {TRACE_ID}
