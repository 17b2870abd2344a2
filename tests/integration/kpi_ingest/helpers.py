"""Signing, reading Kafka and running the service, shared by the kpi_ingest integration tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from services.kpi_ingest.config import KpiIngestSettings
from shared.events import from_record, topics
from shared.webhooks import signed_headers
from tests.support import after_sentinel, bearer, eventually, read_topic, read_topic_to_end, unique

TENANT = "acme"


def admin(tenant: str = TENANT) -> dict[str, str]:
    return bearer(tenant, "admin-1", "admin")


def signed(
    secret: str, body: bytes, *, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    """Standard Webhooks headers for ``body``, made with the package itself."""
    return {
        **signed_headers(secret, body, msg_id=msg_id or unique("msg_"), at=at),
        "content-type": "application/json",
    }


async def create_source(
    client: httpx.AsyncClient,
    fmt: str,
    mapping: dict[str, Any] | None = None,
    tenant: str = TENANT,
    auth: str = "signature",
) -> tuple[str, str]:
    response = await client.post(
        "/v1/sources",
        json={"name": f"{fmt} source", "format": fmt, "mapping": mapping or {}, "auth": auth},
        headers=admin(tenant),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["secret"]


async def send(
    client: httpx.AsyncClient,
    source_id: str,
    secret: str,
    payload: Any,
    *,
    msg_id: str | None = None,
) -> httpx.Response:
    body = orjson.dumps(payload)
    return await client.post(
        f"/v1/webhooks/{source_id}", content=body, headers=signed(secret, body, msg_id=msg_id)
    )


async def read_events(
    settings: KpiIngestSettings,
    *,
    expected: int,
    event_type: str | None = None,
    source_id: str | None = None,
    metric: str | None = None,
    timeout: float = 10.0,
) -> list[Any]:
    """Records on the data-point topic as (key, envelope), filtered by type, source or metric:
    the whole topic up to its end, once at least ``expected`` match. A webhook's points are
    acknowledged before its 202, so after one every point it published is in the answer (an
    extra one shows; no linger stands in for that)."""

    def wanted(record: Any) -> bool:
        envelope = from_record(record.value, list(record.headers))
        return (
            (event_type is None or envelope.type == event_type)
            and (source_id is None or envelope.data.get("source_id") == source_id)
            and (metric is None or envelope.data.get("metric") == metric)
        )

    async def enough() -> list[Any] | None:
        found = await read_topic_to_end(settings, topics.KPI_DATAPOINTS, keep=wanted)
        return found if len(found) >= expected else None

    records = await eventually(enough, timeout=timeout, interval=0.2)
    return [(r.key, from_record(r.value, list(r.headers))) for r in records]


async def events_before_a_sentinel(
    settings: KpiIngestSettings,
    client: httpx.AsyncClient,
    *,
    source_id: str,
    metric: str = "active_users",
    tenant: str = TENANT,
) -> list[Any]:
    """``source_id``'s records on the data-point topic, once a sentinel point has arrived.

    The sentinel goes through a generic source of its own, on the same tenant and metric, so
    the same key and partition: anything the calls before it published is ahead of it there,
    so "nothing more was published" is read off the log, not waited for.
    """
    sentinel_source, secret = await create_source(client, "generic", tenant=tenant)
    sentinel_id = unique("sentinel-")

    async def send_sentinel() -> None:
        point = {
            "id": sentinel_id,
            "metric": metric,
            "value": 0,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        response = await send(client, sentinel_source, secret, {"datapoints": [point]})
        assert response.status_code == 202, response.text

    def is_sentinel(record: Any) -> bool:
        return bool(
            from_record(record.value, list(record.headers)).data.get("source_event_id")
            == sentinel_id
        )

    async def sentinel_arrived() -> list[Any] | None:
        records = await read_topic(
            settings,
            topics.KPI_DATAPOINTS,
            enough=lambda found: any(is_sentinel(r) for r in found),
            timeout=5,
            linger_s=0.05,
        )
        return records if any(is_sentinel(r) for r in records) else None

    records = await after_sentinel(send_sentinel, sentinel_arrived)
    envelopes = [(r.key, from_record(r.value, list(r.headers))) for r in records]
    return [(key, e) for key, e in envelopes if e.data.get("source_id") == source_id]
