"""A source mapping the document store would refuse is a 422 problem, and no source is written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.kpi_ingest.helpers import admin

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "mapping",
    [
        {"value": 2**64},
        {"value": -(2**63) - 1},
        nested(40),
        {"value": "x" * 20_000},
    ],
    ids=["int-beyond-64-bits", "int-below-64-bits", "deep", "long"],
)
async def test_an_unstorable_mapping_is_refused_and_no_source_is_written(
    client: httpx.AsyncClient, mapping: dict[str, Any]
) -> None:
    before = (await client.get("/v1/sources", headers=admin())).json()
    body = {"name": "unsafe source", "format": "generic", "mapping": mapping}
    refused = await client.post("/v1/sources", headers=admin(), json=body)
    after = (await client.get("/v1/sources", headers=admin())).json()

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert after == before


async def test_a_mapping_with_dotted_and_dollar_keys_is_kept_as_sent(
    client: httpx.AsyncClient,
) -> None:
    # the mapping is stored as JSON text, so sender names such as OTLP's dotted ones are safe keys
    mapping = {"metrics": {"http.server.duration": "latency", "$odd": "odd"}}
    body = {"name": "dotted source", "format": "otlp", "mapping": mapping}
    created = await client.post("/v1/sources", headers=admin(), json=body)
    shown = await client.get(f"/v1/sources/{created.json()['id']}", headers=admin())

    assert created.status_code == 201, created.text
    assert shown.json()["mapping"] == mapping
