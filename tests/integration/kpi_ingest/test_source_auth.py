"""Sources for senders that cannot sign (bearer or basic auth, chosen at creation, stored hashed,
rotatable), and Segment's X-Signature deliveries that cannot be replayed once forgotten."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from pymongo import AsyncMongoClient

from services.kpi_ingest.config import KpiIngestSettings
from tests.integration.kpi_ingest.helpers import admin, create_source, read_events, signed
from tests.integration.kpi_ingest.test_formats import SEGMENT_MAPPING, otlp_metrics, segment_track

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SOME_SECRET = "whsec_" + base64.b64encode(b"s" * 24).decode()
OTLP_MAPPING = {"metrics": {"product.adoption": "adoption_rate", "billing.revenue": "revenue"}}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def post(
    client: httpx.AsyncClient, source_id: str, payload: Any, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        f"/v1/webhooks/{source_id}",
        content=orjson.dumps(payload),
        headers={"content-type": "application/json", **headers},
    )


async def stored_source(settings: KpiIngestSettings, source_id: str) -> dict[str, Any]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        found = await mongo[settings.mongodb_database]["sources"].find_one({"_id": source_id})
    finally:
        await mongo.close()
    assert found is not None
    return found


async def test_a_collector_sends_otlp_with_a_bearer_token(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, token = await create_source(client, "otlp", OTLP_MAPPING, auth="bearer")
    now_ns = int(datetime.now(UTC).timestamp()) * 10**9
    body = otlp_metrics(now_ns)

    accepted = await post(client, source_id, body, {"Authorization": f"Bearer {token}"})

    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {}
    records = await read_events(settings, expected=2, source_id=source_id)
    assert {e.data["metric"] for _, e in records} == {"adoption_rate", "revenue"}
    for headers in (
        {},
        {"Authorization": "Bearer nsk_not-the-token"},
        {"Authorization": f"Basic {token}"},  # another scheme
        signed(SOME_SECRET, orjson.dumps(body)),  # a signature is not what this source takes
    ):
        refused = await post(client, source_id, body, headers)
        assert refused.status_code == 401, (headers, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")

    # shown once, stored only as its digest
    described = await client.get(f"/v1/sources/{source_id}", headers=admin())
    assert described.json()["auth"] == "bearer"
    assert "secret" not in described.json()
    stored = await stored_source(settings, source_id)
    assert token not in orjson.dumps(stored, default=str).decode()
    assert [s["value"] for s in stored["secrets"]] == [hashlib.sha256(token.encode()).hexdigest()]


async def test_mixpanel_sends_with_basic_auth(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    mapping = {"cohort_metric": "active_users"}
    source_id, token = await create_source(client, "mixpanel", mapping, auth="basic")
    sync = {
        "action": "members",
        "parameters": {
            "mixpanel_cohort_name": "Power users",
            "mixpanel_cohort_id": "1234",
            "members": [{"email": "a@acme.test"}, {"email": "b@acme.test"}],
        },
    }

    accepted = await post(client, source_id, sync, basic(source_id, token))
    wrong = await post(client, source_id, sync, basic(source_id, "nsk_wrong"))
    no_password = await post(client, source_id, sync, basic(token, ""))
    bearer = await post(client, source_id, sync, {"Authorization": f"Bearer {token}"})

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "success"
    assert [r.status_code for r in (wrong, no_password, bearer)] == [401, 401, 401]
    [(_, recorded)] = await read_events(settings, expected=1, source_id=source_id)
    assert recorded.data["value"] == 2


async def test_a_token_is_rotated_with_a_grace_period(client: httpx.AsyncClient) -> None:
    source_id, old = await create_source(client, "generic", auth="bearer")

    rotated = await client.post(f"/v1/sources/{source_id}/rotate-secret", headers=admin())

    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("nsk_")
    assert new != old
    assert rotated.json()["previous_secret_valid_until"] is not None
    for n, token in enumerate((new, old)):
        point = {"id": f"r{n}", "metric": "csat", "value": 4, "timestamp": "2026-11-20T10:00:00Z"}
        sent = await post(
            client, source_id, {"datapoints": [point]}, {"Authorization": f"Bearer {token}"}
        )
        assert sent.status_code == 202, sent.text


async def test_an_unknown_auth_kind_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/sources",
        json={"name": "x", "format": "generic", "mapping": {}, "auth": "none"},
        headers=admin(),
    )
    assert response.status_code == 422


def x_signed(secret: str, body: bytes) -> dict[str, str]:
    return {"x-signature": hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


async def test_a_segment_delivery_older_than_the_replay_window_is_refused(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(client, "segment", SEGMENT_MAPPING)
    now = datetime.now(UTC)

    def call(message_id: str, received: datetime | None) -> bytes:
        body = segment_track(message_id, 3.0)
        for name in ("receivedAt", "sentAt", "timestamp"):
            body.pop(name)
        if received is not None:
            body["receivedAt"] = received.isoformat()
        return orjson.dumps(body)

    old = call("ajs-old", now - timedelta(hours=1, minutes=1))
    timeless = call("ajs-timeless", None)
    fresh = call("ajs-fresh", now - timedelta(minutes=59))
    answers = {}
    for name, body in (("old", old), ("timeless", timeless), ("fresh", fresh)):
        response = await client.post(
            f"/v1/webhooks/{source_id}",
            content=body,
            headers={"content-type": "application/json", **x_signed(secret, body)},
        )
        answers[name] = response.status_code
    assert answers == {"old": 401, "timeless": 401, "fresh": 202}
    records = await read_events(settings, expected=1, source_id=source_id)
    assert [e.data["source_event_id"] for _, e in records] == ["ajs-fresh"]
