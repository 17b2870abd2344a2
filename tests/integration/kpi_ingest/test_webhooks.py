"""Signed webhooks on the real broker: verification, dedupe, all-or-nothing, bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from fastapi import FastAPI

from services.kpi_ingest.config import KpiIngestSettings
from shared.events import deterministic_id
from shared.events.kpi import KpiDatapointRecorded, series_key
from tests.integration.kpi_ingest.helpers import (
    admin,
    create_source,
    events_before_a_sentinel,
    read_events,
    send,
    signed,
)
from tests.integration.kpi_ingest.wire import Tap, exchange, response_of, served
from tests.support import bearer, read_topic_to_end

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

NOW = datetime.now(UTC).replace(microsecond=0)


def points(n: int, metric: str = "active_users", **extra: object) -> dict[str, object]:
    return {
        "datapoints": [
            {
                "id": f"p{i}",
                "metric": metric,
                "value": 100 + i,
                "timestamp": (NOW - timedelta(minutes=i)).isoformat(),
                "dimensions": {"product": "mobile"},
                **extra,
            }
            for i in range(n)
        ]
    }


async def test_generic_batch_is_acknowledged_after_every_point_is_in_kafka(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(client, "generic")

    response = await send(client, source_id, secret, points(3))

    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "accepted": 3, "ignored": 0}
    records = await read_events(settings, expected=3, source_id=source_id)
    assert len(records) == 3
    by_event = {e.data["source_event_id"]: (key, e) for key, e in records}
    key, event = by_event["p1"]
    assert key == series_key("acme", "active_users", {"product": "mobile"}).encode()
    assert key.startswith(b"acme:active_users:")
    assert event.type == KpiDatapointRecorded.event_type
    assert event.id == deterministic_id(source_id, "p1", "active_users")
    payload = KpiDatapointRecorded.model_validate(event.data)
    assert payload.id == event.id
    assert payload.value == 101.0
    assert payload.tenant == "acme"
    assert payload.dimensions == {"product": "mobile"}
    assert payload.timestamp == NOW - timedelta(minutes=1)


async def test_records_are_cloudevents_the_official_sdk_reads(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:

    source_id, secret = await create_source(client, "generic")
    assert (await send(client, source_id, secret, points(1))).status_code == 202

    def parse(r: Any) -> Any:
        return from_binary_event(KafkaMessage(headers=dict(r.headers), key=r.key, value=r.value))

    def ours(r: Any) -> bool:
        data = parse(r).get_data()
        return isinstance(data, dict) and data.get("source_id") == source_id

    # published before the 202: the topic up to its end holds it
    records = await read_topic_to_end(settings, "northstar.kpi.datapoints.v1", keep=ours)
    parsed = [parse(r) for r in records]
    [event] = parsed
    assert event.get_type() == "northstar.kpi.datapoint.recorded.v1"
    assert event.get_extension("partitionkey") == series_key(
        "acme", "active_users", {"product": "mobile"}
    )


async def test_repeated_webhook_id_is_acknowledged_without_publishing_again(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(client, "generic")
    first = await send(client, source_id, secret, points(2), msg_id="msg_repeat")
    again = await send(client, source_id, secret, points(2), msg_id="msg_repeat")

    assert first.status_code == 202
    assert again.status_code == 202  # answered as accepted: the sender must not retry
    assert again.json() == {"status": "duplicate", "accepted": 0}
    records = await events_before_a_sentinel(settings, client, source_id=source_id)
    assert len(records) == 2


async def test_forged_signature_is_refused_with_a_401_problem(client: httpx.AsyncClient) -> None:
    source_id, _ = await create_source(client, "generic")
    body = orjson.dumps(points(1))
    forged = signed("whsec_" + "A" * 32, body)

    response = await client.post(f"/v1/webhooks/{source_id}", content=body, headers=forged)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "signature" in response.json()["detail"]


async def test_tampered_body_is_refused(client: httpx.AsyncClient) -> None:
    source_id, secret = await create_source(client, "generic")
    headers = signed(secret, orjson.dumps(points(1)))

    response = await client.post(
        f"/v1/webhooks/{source_id}", content=orjson.dumps(points(1, value=1e9)), headers=headers
    )

    assert response.status_code == 401


async def test_missing_signature_headers_are_refused(client: httpx.AsyncClient) -> None:
    source_id, _ = await create_source(client, "generic")

    response = await client.post(f"/v1/webhooks/{source_id}", json=points(1))

    assert response.status_code == 401
    assert "webhook-signature" in response.json()["detail"]


@pytest.mark.parametrize("age", [timedelta(minutes=6), timedelta(minutes=-6)])
async def test_stale_or_future_timestamp_is_refused(
    client: httpx.AsyncClient, age: timedelta
) -> None:
    source_id, secret = await create_source(client, "generic")
    body = orjson.dumps(points(1))

    response = await client.post(
        f"/v1/webhooks/{source_id}",
        content=body,
        headers=signed(secret, body, at=datetime.now(UTC) - age),
    )

    assert response.status_code == 401
    assert "too" in response.json()["detail"]


async def test_a_signed_request_older_than_the_tolerance_is_refused(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    """Correctly signed 301 seconds ago under an id never accepted: out of the replay window."""
    source_id, secret = await create_source(client, "generic")
    body = orjson.dumps(points(1))
    old = signed(secret, body, at=datetime.now(UTC) - timedelta(seconds=301))

    response = await client.post(f"/v1/webhooks/{source_id}", content=body, headers=old)

    assert response.status_code == 401
    assert await events_before_a_sentinel(settings, client, source_id=source_id) == []


async def test_a_delivery_captured_on_the_wire_and_replayed_byte_for_byte_is_not_taken_twice(
    app: FastAPI, client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    """The sender's request is recorded as it crossed a TCP connection to the served app, then
    those exact bytes (request line, headers, signature, body) are written again. The replay is
    inside the signature's window, so only the delivery log can stop it: it is answered as a
    duplicate (never 401 for a correct resend, so a sender does not retry it) and publishes
    nothing."""
    source_id, secret = await create_source(client, "generic")
    body = orjson.dumps(points(2))
    async with served(app) as port, Tap(port).running() as tap:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{tap.port}") as sender:
            first = await sender.post(
                f"/v1/webhooks/{source_id}", content=body, headers=signed(secret, body)
            )
        assert first.status_code == 202, first.text
        assert first.json() == {"status": "accepted", "accepted": 2, "ignored": 0}
        [captured] = tap.sent
        assert captured.startswith(f"POST /v1/webhooks/{source_id} HTTP/1.1\r\n".encode())
        assert b"\r\nwebhook-signature: v1," in captured
        assert captured.endswith(b"\r\n\r\n" + body)  # one whole request, nothing after
        assert response_of(bytes(tap.answered[0]))[0] == 202

        status, answer = await exchange(port, bytes(captured))

    assert status == 202
    assert orjson.loads(answer) == {"status": "duplicate", "accepted": 0}
    records = await events_before_a_sentinel(settings, client, source_id=source_id)
    assert sorted(e.data["source_event_id"] for _, e in records) == ["p0", "p1"]  # once each


async def test_unknown_metric_or_malformed_point_rejects_the_whole_request(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(client, "generic")
    payload = points(4)
    payload["datapoints"][1]["metric"] = "no_such_metric"  # type: ignore[index]
    payload["datapoints"][3]["value"] = "lots"  # type: ignore[index]

    response = await send(client, source_id, secret, payload)

    assert response.status_code == 422
    problem = response.json()
    assert [e["point"] for e in problem["errors"]] == [
        "datapoints[1] (id p1)",
        "datapoints[3] (id p3)",
    ]
    assert "unknown metric 'no_such_metric'" in problem["detail"]
    assert await events_before_a_sentinel(settings, client, source_id=source_id) == []


async def test_more_than_a_thousand_points_is_too_large(client: httpx.AsyncClient) -> None:
    source_id, secret = await create_source(client, "generic")

    response = await send(client, source_id, secret, points(1001))

    assert response.status_code == 413
    assert "1000" in response.json()["detail"]


async def test_a_body_over_the_size_bound_is_refused(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(client, "generic")
    body = b'{"datapoints": [], "pad": "' + b"x" * settings.max_body_bytes + b'"}'

    response = await client.post(
        f"/v1/webhooks/{source_id}", content=body, headers=signed(secret, body)
    )

    assert response.status_code == 413


async def test_source_secret_is_shown_once_and_sources_are_tenant_scoped(
    client: httpx.AsyncClient,
) -> None:
    source_id, secret = await create_source(client, "segment", {"events": []})
    assert secret.startswith("whsec_")

    shown = await client.get(f"/v1/sources/{source_id}", headers=admin())
    listed = await client.get("/v1/sources", headers=admin())
    other_tenant = await client.get(f"/v1/sources/{source_id}", headers=admin("globex"))
    not_admin = await client.get("/v1/sources", headers=bearer("acme", "p1", "employee"))

    assert shown.status_code == 200
    assert "secret" not in shown.json()
    assert shown.json()["webhook_path"] == f"/v1/webhooks/{source_id}"
    assert source_id in [s["id"] for s in listed.json()["items"]]
    assert all("secret" not in s for s in listed.json()["items"])
    assert other_tenant.status_code == 404
    assert not_admin.status_code == 403


async def test_rotated_secret_keeps_the_previous_one_valid_for_the_grace_period(
    client: httpx.AsyncClient,
) -> None:
    source_id, old = await create_source(client, "generic")

    rotated = await client.post(f"/v1/sources/{source_id}/rotate-secret", headers=admin())
    new = rotated.json()["secret"]

    assert rotated.status_code == 200
    assert new != old
    assert rotated.json()["previous_secret_valid_until"] is not None
    assert (await send(client, source_id, new, points(1, metric="csat"))).status_code == 202
    assert (await send(client, source_id, old, points(1, metric="nps"))).status_code == 202


async def test_deleted_source_receives_nothing(client: httpx.AsyncClient) -> None:
    source_id, secret = await create_source(client, "generic")

    deleted = await client.delete(f"/v1/sources/{source_id}", headers=admin())
    response = await send(client, source_id, secret, points(1))

    assert deleted.status_code == 204
    assert response.status_code == 404


async def test_source_with_a_bad_mapping_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/sources",
        json={"name": "x", "format": "segment", "mapping": {"events": [{"event": "A"}]}},
        headers=admin(),
    )

    assert response.status_code == 422
    assert "metric" in response.json()["detail"]


async def test_webhook_metrics_are_exported(client: httpx.AsyncClient) -> None:
    source_id, secret = await create_source(client, "generic")
    await send(client, source_id, secret, points(2))

    text = (await client.get("/metrics")).text

    assert (
        f'northstar_kpi_datapoints_total{{format="generic",outcome="accepted",'
        f'service="kpi_ingest",source_id="{source_id}"}} 2.0' in text
    )
    assert (
        'northstar_kpi_webhook_requests_total{format="generic",service="kpi_ingest",status="202"}'
        in text
    )
