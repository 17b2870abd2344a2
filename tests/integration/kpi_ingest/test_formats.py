"""Every payload format with a realistic payload, through the real broker."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from services.kpi_ingest.config import KpiIngestSettings
from tests.integration.kpi_ingest.helpers import (
    create_source,
    events_before_a_sentinel,
    read_events,
    send,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SEGMENT_MAPPING = {
    "events": [
        {
            "event": "Order Completed",
            "metric": "revenue",
            "value": "properties.revenue",
            "dimensions": {"plan": "properties.plan"},
        },
        {"event": "Product Launched", "metric": "launches"},
        {"type": "group", "metric": "active_users", "value": "traits.active_users"},
    ]
}


def segment_track(message_id: str, revenue: float) -> dict[str, object]:
    return {
        "anonymousId": "23adfd82-aa0f-45a7-a756-24f2a7a4c895",
        "context": {
            "library": {"name": "analytics.js", "version": "2.11.1"},
            "page": {"path": "/checkout", "url": "https://app.acme.test/checkout"},
            "ip": "108.0.78.21",
        },
        "event": "Order Completed",
        "integrations": {},
        "messageId": message_id,
        "properties": {
            "order_id": "50314b8e",
            "revenue": revenue,
            "currency": "USD",
            "plan": "pro",
        },
        "receivedAt": "2026-11-20T12:03:55.912Z",
        "sentAt": "2026-11-20T12:03:55.764Z",
        "timestamp": "2026-11-20T12:03:55.898Z",
        "type": "track",
        "userId": "user-42",
        "version": 2,
    }


async def test_segment_track_and_group_calls_become_points_and_page_calls_are_ignored(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(client, "segment", SEGMENT_MAPPING)
    batch = {
        "batch": [
            segment_track("ajs-f8ca1e4de5024d9430b3928bd8ac6b96", 25.0),
            {
                "type": "group",
                "messageId": "ajs-group-1",
                "groupId": "acme-inc",
                "userId": "user-42",
                "traits": {"name": "Acme Inc", "industry": "Technology", "active_users": 420},
                "timestamp": "2026-11-20T12:04:00.000Z",
            },
            {
                "type": "page",
                "messageId": "ajs-page-1",
                "name": "Checkout",
                "properties": {"path": "/checkout"},
                "timestamp": "2026-11-20T12:04:01.000Z",
            },
        ]
    }

    response = await send(client, source_id, secret, batch)

    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "accepted": 2, "ignored": 1}
    records = await read_events(settings, expected=2, source_id=source_id)
    by_metric = {e.data["metric"]: e.data for _, e in records}
    assert by_metric["revenue"]["value"] == 25.0
    assert by_metric["revenue"]["dimensions"] == {"plan": "pro"}
    assert by_metric["revenue"]["source_event_id"] == "ajs-f8ca1e4de5024d9430b3928bd8ac6b96"
    assert by_metric["revenue"]["timestamp"] == "2026-11-20T12:03:55.898000Z"
    assert by_metric["active_users"]["value"] == 420.0


async def test_segment_x_signature_is_accepted_and_a_resent_call_publishes_nothing_new(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(client, "segment", SEGMENT_MAPPING)
    now = datetime.now(UTC).isoformat()
    call = {**segment_track("ajs-xsig-1", 9.5), "receivedAt": now, "sentAt": now}
    body = orjson.dumps(call)
    signature = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    headers = {"content-type": "application/json", "x-signature": signature}

    first = await client.post(f"/v1/webhooks/{source_id}", content=body, headers=headers)
    resent = await client.post(f"/v1/webhooks/{source_id}", content=body, headers=headers)
    forged = await client.post(
        f"/v1/webhooks/{source_id}", content=body, headers={**headers, "x-signature": "0" * 40}
    )

    assert first.status_code == 202, first.text
    assert resent.status_code == 202  # a duplicate is answered as accepted
    assert forged.status_code == 401
    records = await events_before_a_sentinel(
        settings, client, source_id=source_id, metric="revenue"
    )
    assert [e.data["value"] for _, e in records] == [9.5]


async def test_amplitude_streamed_events_keyed_by_insert_id(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    mapping = {
        "events": [
            {
                "event": "Feature Adopted",
                "metric": "adoption_rate",
                "value": "event_properties.adoption_pct",
                "dimensions": {"feature": "event_properties.feature", "platform": "platform"},
            }
        ]
    }
    source_id, secret = await create_source(client, "amplitude", mapping)
    event = {
        "event_type": "Feature Adopted",
        "user_id": "user-42",
        "device_id": "C8F9E604-F01A-4BD9-95C6-8E5357DF265D",
        "event_time": "2026-11-20 12:00:00.123000",
        "$insert_id": "5f0adeff-6668-4427-8d02-57d803a2b841",
        "uuid": "6b1f8a6e-6f0c-11ef-8a3b-0242ac120002",
        "event_properties": {"feature": "roadmaps", "adoption_pct": 37.5},
        "user_properties": {"plan": "enterprise"},
        "platform": "Web",
        "country": "Germany",
        "amplitude_id": 123456789,
    }

    response = await send(client, source_id, secret, event)

    assert response.status_code == 202, response.text
    [(_, recorded)] = await read_events(settings, expected=1, source_id=source_id)
    assert recorded.data["value"] == 37.5
    assert recorded.data["source_event_id"] == "5f0adeff-6668-4427-8d02-57d803a2b841"
    assert recorded.data["dimensions"] == {"feature": "roadmaps", "platform": "Web"}
    assert recorded.data["timestamp"] == "2026-11-20T12:00:00.123000Z"


async def test_amplitude_cohort_webhook_counts_the_users_entering(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(
        client, "amplitude", {"cohorts": {"5z4ex8h": "active_users"}}
    )
    cohort = {
        "cohort_name": "Weekly power users",
        "cohort_id": "5z4ex8h",
        "in_cohort": True,
        "computed_time": "1763640000",
        "message_id": "b2f2ad8e-0c8f-4b8c-9a0e-8d7cfa1e1b77",
        "users": [
            {"user_id": "user-1", "user_properties": {"plan": "pro"}},
            {"user_id": "user-2", "user_properties": {"plan": "free"}},
            {"user_id": "user-3", "user_properties": {"plan": "pro"}},
        ],
    }

    response = await send(client, source_id, secret, cohort)

    assert response.status_code == 202, response.text
    [(_, recorded)] = await read_events(settings, expected=1, source_id=source_id)
    assert recorded.data["metric"] == "active_users"
    assert recorded.data["value"] == 3.0
    assert recorded.data["dimensions"] == {
        "cohort": "Weekly power users",
        "membership": "entered",
    }


async def test_mixpanel_cohort_sync_is_answered_in_mixpanels_protocol(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(client, "mixpanel", {"cohort_metric": "active_users"})
    sync = {
        "action": "add_members",
        "parameters": {
            "mixpanel_project_id": "2871029",
            "mixpanel_cohort_name": "Activated this week",
            "mixpanel_cohort_id": "1234567",
            "mixpanel_cohort_description": "Completed onboarding in the last 7 days",
            "mixpanel_session_id": "a1b2c3d4",
            "page_info": {"total_pages": 1, "page_count": 0},
            "members": [
                {
                    "email": "ada@acme.test",
                    "mixpanel_distinct_id": "d-1",
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "phone_number": "",
                },
                {"email": "alan@acme.test", "mixpanel_distinct_id": "d-2"},
            ],
        },
    }

    response = await send(client, source_id, secret, sync, msg_id="msg_mixpanel_1")
    resent = await send(client, source_id, secret, sync, msg_id="msg_mixpanel_1")

    assert response.status_code == 200, response.text
    assert response.json() == {"action": "add_members", "status": "success"}
    assert resent.json() == {"action": "add_members", "status": "success"}
    records = await events_before_a_sentinel(settings, client, source_id=source_id)
    assert [(e.data["value"], e.data["dimensions"]) for _, e in records] == [
        (2.0, {"cohort": "Activated this week", "action": "add_members"})
    ]


async def test_posthog_webhook_destination_event_keyed_by_uuid(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    mapping = {
        "events": [
            {
                "event": "survey sent",
                "metric": "nps",
                "value": "properties.$survey_response",
                "dimensions": {"survey": "properties.$survey_name"},
            }
        ]
    }
    source_id, secret = await create_source(client, "posthog", mapping)
    body = {
        "event": {
            "uuid": "01932b4e-7a3c-7f5e-9d1b-3c4e5f6a7b8c",
            "event": "survey sent",
            "distinct_id": "user-42",
            "properties": {
                "$survey_id": "0190fe51-92a0-0000-4ba3-f85f5f0ef78f",
                "$survey_name": "Quarterly NPS",
                "$survey_response": "9",
                "$lib": "web",
                "$current_url": "https://app.acme.test/",
            },
            "elements_chain": "",
            "timestamp": "2026-11-20T12:30:00.000Z",
            "url": "https://eu.posthog.com/project/1/events/01932b4e",
        },
        "person": {
            "id": "0190fe51-0000-0000-0000-000000000001",
            "name": "ada@acme.test",
            "properties": {"email": "ada@acme.test"},
            "url": "https://eu.posthog.com/project/1/person/user-42",
        },
    }

    response = await send(client, source_id, secret, body)

    assert response.status_code == 202, response.text
    [(_, recorded)] = await read_events(settings, expected=1, source_id=source_id)
    assert recorded.data["value"] == 9.0
    assert recorded.data["source_event_id"] == "01932b4e-7a3c-7f5e-9d1b-3c4e5f6a7b8c"
    assert recorded.data["dimensions"] == {"survey": "Quarterly NPS"}


def otlp_metrics(now_ns: int) -> dict[str, object]:
    attrs = [{"key": "product", "value": {"stringValue": "mobile"}}]
    return {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "billing"}}]
                },
                "scopeMetrics": [
                    {
                        "scope": {"name": "acme.kpis", "version": "1.0.0"},
                        "metrics": [
                            {
                                "name": "product.adoption",
                                "unit": "%",
                                "gauge": {
                                    "dataPoints": [
                                        {
                                            "asDouble": 41.5,
                                            "timeUnixNano": str(now_ns),
                                            "attributes": attrs,
                                        }
                                    ]
                                },
                            },
                            {
                                "name": "billing.revenue",
                                "unit": "USD",
                                "sum": {
                                    "aggregationTemporality": 1,
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {
                                            "asInt": "1250",
                                            "startTimeUnixNano": str(now_ns - 60 * 10**9),
                                            "timeUnixNano": str(now_ns),
                                            "attributes": attrs,
                                        }
                                    ],
                                },
                            },
                            {
                                "name": "http.server.duration",
                                "histogram": {"dataPoints": [], "aggregationTemporality": 2},
                            },
                        ],
                    }
                ],
            }
        ]
    }


async def test_otlp_json_gauge_and_sum_points(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    mapping = {"metrics": {"product.adoption": "adoption_rate", "billing.revenue": "revenue"}}
    source_id, secret = await create_source(client, "otlp", mapping)
    now_ns = int(datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()) * 10**9

    response = await send(client, source_id, secret, otlp_metrics(now_ns))
    resent_with_new_id = await send(client, source_id, secret, otlp_metrics(now_ns))

    assert response.status_code == 200, response.text
    assert response.json() == {}
    assert resent_with_new_id.status_code == 200
    records = await read_events(settings, expected=4, source_id=source_id)
    values = {(e.data["metric"], e.data["value"], e.id) for _, e in records}
    # the same data point sent twice carries the same event id: stored once downstream
    assert {(m, v) for m, v, _ in values} == {("adoption_rate", 41.5), ("revenue", 1250.0)}
    assert len(values) == 2
    assert all(e.data["dimensions"] == {"product": "mobile"} for _, e in records)
