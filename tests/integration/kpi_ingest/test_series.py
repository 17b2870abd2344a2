"""The series projection and the signals, fed by the real consumer from the real broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from services.kpi_ingest.config import KpiIngestSettings
from shared.events import new_event
from shared.events.kpi import KpiDatapointRecorded, KpiStale, KpiThresholdCrossed, series_key
from shared.messaging import EventProducer
from tests.integration.kpi_ingest.helpers import admin, create_source, read_events, send
from tests.support import after_sentinel, bearer, eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

DAY = datetime(2026, 11, 2, tzinfo=UTC)
READER = bearer("acme", "p-1", "employee")


def point(pid: str, metric: str, value: float, at: datetime, **dims: str) -> dict[str, Any]:
    return {
        "id": pid,
        "metric": metric,
        "value": value,
        "timestamp": at.isoformat(),
        "dimensions": dims,
    }


async def series(client: httpx.AsyncClient, key: str, **params: str) -> dict[str, Any]:
    response = await client.get(f"/v1/metrics/{key}/series", params=params, headers=READER)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def stored_count(settings: KpiIngestSettings, metric: str) -> int:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        return await mongo[settings.mongodb_database]["datapoints"].count_documents(
            {"tenant": "acme", "metric": metric}
        )
    finally:
        await mongo.close()


async def test_series_buckets_means_of_gauges_and_sums_of_counters_with_dimension_filters(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(client, "generic")
    batch = [
        point("a1", "csat", 4.0, DAY + timedelta(hours=9, minutes=5), product="web"),
        point("a2", "csat", 5.0, DAY + timedelta(hours=9, minutes=40), product="web"),
        point("a3", "csat", 2.0, DAY + timedelta(hours=9, minutes=50), product="mobile"),
        point("a4", "csat", 3.0, DAY + timedelta(hours=11), product="web"),
        point("b1", "launches", 1, DAY + timedelta(hours=9), product="web"),
        point("b2", "launches", 2, DAY + timedelta(hours=9, minutes=30), product="web"),
        point("b3", "launches", 1, DAY + timedelta(days=1, hours=3), product="web"),
    ]
    assert (await send(client, source_id, secret, {"datapoints": batch})).status_code == 202
    await eventually(lambda: _has(settings, "launches", 3), timeout=15)
    await eventually(lambda: _has(settings, "csat", 4), timeout=15)

    hourly = await series(
        client,
        "csat",
        **{"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()},
        bucket="hour",
    )
    web = await series(
        client,
        "csat",
        **{"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()},
        bucket="hour",
        product="web",
    )
    daily = await series(
        client,
        "launches",
        **{"from": DAY.isoformat(), "to": (DAY + timedelta(days=3)).isoformat()},
        bucket="day",
    )

    assert hourly["aggregation"] == "mean"
    assert [(b["start"], b["value"], b["count"]) for b in hourly["items"]] == [
        ("2026-11-02T09:00:00Z", pytest.approx(11 / 3), 3),
        ("2026-11-02T11:00:00Z", 3.0, 1),
    ]
    assert [(b["value"], b["count"]) for b in web["items"]] == [(4.5, 2), (3.0, 1)]
    assert daily["aggregation"] == "sum"
    assert [(b["start"], b["value"]) for b in daily["items"]] == [
        ("2026-11-02T00:00:00Z", 3.0),
        ("2026-11-03T00:00:00Z", 1.0),
    ]

    latest = await client.get(
        "/v1/metrics/csat/latest", params={"product": "mobile"}, headers=READER
    )
    assert latest.status_code == 200
    assert latest.json()["value"] == 2.0
    assert latest.json()["dimensions"] == {"product": "mobile"}


async def _has(settings: KpiIngestSettings, metric: str, n: int) -> bool:
    return await stored_count(settings, metric) >= n


async def test_a_resent_webhook_and_a_redelivered_record_are_stored_once(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    source_id, secret = await create_source(client, "generic")
    batch = {"datapoints": [point("r1", "revenue", 120.0, DAY + timedelta(hours=2))]}
    # resent under a new webhook-id (a sender that re-signs): same point id, same event id
    assert (await send(client, source_id, secret, batch)).status_code == 202
    assert (await send(client, source_id, secret, batch)).status_code == 202
    [(_, recorded), *_] = await read_events(settings, expected=2, source_id=source_id)
    producer = EventProducer(settings)
    await producer.start()
    try:  # and Kafka hands the same record to the consumer once more
        payload = KpiDatapointRecorded.model_validate(recorded.data)
        await producer.publish(
            new_event(payload, tenant="acme", subject="acme:revenue", source="test", id=recorded.id)
        )
    finally:
        await producer.stop()
    await eventually(lambda: _has(settings, "revenue", 1))

    # a sentinel on the same key (acme:revenue), outside the day read below: once the consumer
    # stored it, it has handled the redelivered record ahead of it
    async def sentinel() -> None:
        later = {"datapoints": [point("r-sentinel", "revenue", 1.0, DAY + timedelta(days=10))]}
        assert (await send(client, source_id, secret, later)).status_code == 202

    await after_sentinel(sentinel, lambda: _has(settings, "revenue", 2))

    assert await stored_count(settings, "revenue") == 2  # r1 once, and the sentinel
    day = await series(
        client,
        "revenue",
        **{"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()},
        bucket="day",
    )
    assert [b["value"] for b in day["items"]] == [120.0]


async def test_threshold_crossing_is_signalled_once_per_crossing(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    defined = await client.post(
        "/v1/metrics",
        json={
            "key": "retention_rate",
            "name": "Retention",
            "unit": "percent",
            "kind": "gauge",
            "thresholds": [90],
        },
        headers=admin(),
    )
    assert defined.status_code == 201, defined.text
    source_id, secret = await create_source(client, "generic")
    values = [85.0, 92.0, 95.0, 90.0, 88.0]
    for n, value in enumerate(values):
        at = DAY + timedelta(hours=n)
        batch = {"datapoints": [point(f"t{n}", "retention_rate", value, at, team="core")]}
        assert (await send(client, source_id, secret, batch)).status_code == 202

    # the sentinel: one more crossing on the same key; a repeated crossing would come before it
    async def sentinel() -> None:
        batch = {
            "datapoints": [
                point("t-sentinel", "retention_rate", 99.0, DAY + timedelta(hours=9), team="core")
            ]
        }
        assert (await send(client, source_id, secret, batch)).status_code == 202

    async def sentinel_crossed() -> list[Any] | None:
        found = await read_events(
            settings,
            expected=3,
            event_type=KpiThresholdCrossed.event_type,
            metric="retention_rate",
            timeout=5,
        )
        return found if any(e.data["value"] == 99.0 for _, e in found) else None

    crossings = await after_sentinel(sentinel, sentinel_crossed)

    found = [(e.data["direction"], e.data["value"]) for _, e in crossings]
    assert found == [("up", 92.0), ("down", 88.0), ("up", 99.0)]
    # keyed by series, like the points that caused them
    assert crossings[0][0] == series_key("acme", "retention_rate", {"team": "core"}).encode()
    assert crossings[0][1].data["dimensions"] == {"team": "core"}


async def test_a_metric_that_goes_quiet_is_signalled_stale_once(
    client: httpx.AsyncClient, settings: KpiIngestSettings
) -> None:
    defined = await client.post(
        "/v1/metrics",
        json={
            "key": "weekly_demos",
            "name": "Demos",
            "unit": "demos",
            "kind": "counter",
            "expected_every": 1,
        },
        headers=admin(),
    )
    assert defined.status_code == 201
    source_id, secret = await create_source(client, "generic")
    now = datetime.now(UTC)
    batch = {"datapoints": [point("d1", "weekly_demos", 1, now)]}
    assert (await send(client, source_id, secret, batch)).status_code == 202

    async def stale_events(expected: int) -> list[Any]:
        return await read_events(
            settings,
            expected=expected,
            event_type=KpiStale.event_type,
            metric="weekly_demos",
            timeout=25,
        )

    [(_, first)] = (await stale_events(1))[:1]
    assert first.data["expected_every_s"] == 1
    assert first.data["last_seen"] is not None

    # the sentinel: a fresh point, then its own quiet period; a second signal of the first
    # quiet period would sit before the sentinel's on the same key
    async def sentinel() -> None:
        fresh = {"datapoints": [point("d2", "weekly_demos", 1, datetime.now(UTC))]}
        assert (await send(client, source_id, secret, fresh)).status_code == 202

    async def sentinel_went_stale() -> list[Any] | None:
        found = await stale_events(2)
        seen = [e.data["last_seen"] for _, e in found]
        return found if any(s != first.data["last_seen"] for s in seen) else None

    stale = await after_sentinel(sentinel, sentinel_went_stale)

    assert len(stale) == 2  # one signal per quiet period
    assert stale[0][1].id == first.id


async def test_series_of_an_unknown_metric_is_404_and_metrics_list_the_guides_kpis(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get(
        "/v1/metrics/nope/series",
        params={"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()},
        headers=READER,
    )
    listed = await client.get("/v1/metrics", headers=READER)

    assert missing.status_code == 404
    keys = {m["key"] for m in listed.json()["items"]}
    assert {
        "adoption_rate",
        "active_users",
        "csat",
        "nps",
        "retention_rate",
        "churn_rate",
        "revenue",
        "profit_margin",
        "launches",
        "collaboration_score",
    } <= keys
