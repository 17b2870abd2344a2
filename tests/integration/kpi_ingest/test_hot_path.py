"""The webhook hot path (``WebhookEndpoint``, served from ASGI) answers as the FastAPI route does.

The same deliveries go to the service as it runs and to one whose hot path is taken out (the
request then reaches FastAPI's route of the same path): every answer, errors included, is the
same, status, headers a sender acts on and body; the metrics name the route's template.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.hot_path import WebhookEndpoint
from services.kpi_ingest.main import create_app
from tests.integration.kpi_ingest.helpers import create_source, signed
from tests.support import isolated_settings, running

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

TEMPLATE = "/v1/webhooks/{source_id}"


def points(n: int) -> bytes:
    return orjson.dumps(
        {
            "datapoints": [
                {
                    "id": f"p{i}",
                    "metric": "active_users",
                    "value": i,
                    "timestamp": "2026-12-01T00:00:00Z",
                }
                for i in range(n)
            ]
        }
    )


async def chunks(body: bytes) -> AsyncIterator[bytes]:
    # no content-length: the body limit counts it as it arrives
    for start in range(0, len(body), 4096):
        yield body[start : start + 4096]


async def deliveries(client: httpx.AsyncClient) -> list[tuple[str, dict[str, Any]]]:
    """One of each answer a sender can get, with fixed request ids so both runs compare."""
    source_id, secret = await create_source(client, "generic")
    url = f"/v1/webhooks/{source_id}"
    one, too_many, not_json = points(1), points(1001), b"{not json"
    cases: list[tuple[str, str, bytes | AsyncIterator[bytes], dict[str, str]]] = [
        ("accepted", url, one, signed(secret, one, msg_id="msg_1")),
        ("duplicate", url, one, signed(secret, one, msg_id="msg_1")),
        ("bad signature", url, one, signed("whsec_" + "A" * 32, one, msg_id="msg_2")),
        ("unsigned", url, one, {"content-type": "application/json"}),
        ("unknown source", "/v1/webhooks/src_nope", one, signed(secret, one)),
        ("not JSON", url, not_json, signed(secret, not_json, msg_id="msg_3")),
        ("too many points", url, too_many, signed(secret, too_many, msg_id="msg_4")),
        (
            "body over the limit",
            url,
            chunks(b" " * 2_200_000),
            {"content-type": "application/json"},
        ),
    ]
    answers = []
    for name, path, content, headers in cases:
        response = await client.post(
            path, content=content, headers={**headers, "x-request-id": f"req-{name}"}
        )
        answers.append((name, shape(response, source_id)))
    return answers


def shape(response: httpx.Response, source_id: str) -> dict[str, Any]:
    """What a sender reads of an answer, byte for byte (the source id is new in each run)."""
    return {
        "status": response.status_code,
        "content-type": response.headers.get("content-type"),
        "content-length": int(response.headers["content-length"]) == len(response.content),
        "retry-after": response.headers.get("retry-after"),
        "www-authenticate": response.headers.get("www-authenticate"),
        "x-request-id": response.headers.get("x-request-id"),
        "body": response.content.replace(source_id.encode(), b"<source>"),
    }


def served(status: str) -> float:
    value = REGISTRY.get_sample_value(
        "northstar_http_requests_total",
        {"service": "kpi_ingest", "method": "POST", "route": TEMPLATE, "status": status},
    )
    return value or 0.0


async def test_every_answer_of_the_hot_path_is_the_answer_of_the_fastapi_route() -> None:
    fast_app = create_app(isolated_settings(KpiIngestSettings, consumers_enabled=False))
    assert any(m.cls is WebhookEndpoint for m in fast_app.user_middleware)
    plain_app = create_app(isolated_settings(KpiIngestSettings, consumers_enabled=False))
    plain_app.user_middleware = [
        m for m in plain_app.user_middleware if m.cls is not WebhookEndpoint
    ]

    accepted_before = served("202")
    async with running(fast_app) as client:
        fast = await deliveries(client)
    # the hot path names its requests by the route's template, as FastAPI's routing does
    assert served("202") == accepted_before + 2
    async with running(plain_app) as client:
        plain = await deliveries(client)

    statuses = {name: answer["status"] for name, answer in fast}
    assert statuses == {
        "accepted": 202,
        "duplicate": 202,
        "bad signature": 401,
        "unsigned": 401,
        "unknown source": 404,
        "not JSON": 422,
        "too many points": 413,
        "body over the limit": 413,
    }
    for (name, mine), (_, theirs) in zip(fast, plain, strict=True):
        assert mine == theirs, name
