"""The app factory on the real servers: readiness, metrics, problem details, auth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from pydantic import BaseModel, Field

from deploy.local.servers import DocumentStore, free_port
from shared.app import create_service_app
from shared.auth import CurrentPrincipal
from shared.config import CommonSettings
from shared.errors import Conflict
from tests.support import bearer, eventually, isolated_settings, running

pytestmark = pytest.mark.integration


class GreetingCreate(BaseModel):
    name: str = Field(min_length=1, max_length=20)


def demo_router() -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.post("/greetings", status_code=201)
    async def create(body: GreetingCreate, principal: CurrentPrincipal) -> dict[str, str]:
        if body.name == "taken":
            raise Conflict("that greeting exists already", name=body.name)
        return {"greeting": f"hello {body.name}", "tenant": principal.tenant}

    return router


def app_with(settings: CommonSettings):  # type: ignore[no-untyped-def]
    return create_service_app(
        name=settings.service_name, settings=settings, routers=[demo_router()]
    )


async def test_problem_details_for_bad_input_auth_and_domain_errors() -> None:
    settings = isolated_settings(CommonSettings, service_name="demo", max_body_bytes=2048)
    async with running(app_with(settings)) as client:
        auth = bearer("acme", "p1")
        ok = await client.post("/v1/greetings", json={"name": "ada"}, headers=auth)
        assert ok.status_code == 201
        assert ok.json() == {"greeting": "hello ada", "tenant": "acme"}
        assert ok.headers["x-request-id"]

        no_token = await client.post("/v1/greetings", json={"name": "ada"})
        assert no_token.status_code == 401
        assert no_token.headers["content-type"] == "application/problem+json"
        assert no_token.headers["www-authenticate"] == "Bearer"

        bad_token = await client.post(
            "/v1/greetings", json={"name": "ada"}, headers={"Authorization": "Bearer nope"}
        )
        assert bad_token.status_code == 401

        invalid = await client.post("/v1/greetings", json={"name": ""}, headers=auth)
        assert invalid.status_code == 422
        problem = invalid.json()
        assert problem["type"] == "/problems/invalid-input"
        assert problem["detail"].startswith("body.name:")
        assert problem["errors"][0]["loc"] == ["body", "name"]

        not_json = await client.post(
            "/v1/greetings", content=b"{", headers={**auth, "content-type": "application/json"}
        )
        assert not_json.status_code == 422

        conflict = await client.post("/v1/greetings", json={"name": "taken"}, headers=auth)
        assert conflict.status_code == 409
        assert conflict.json()["name"] == "taken"

        too_large = await client.post(
            "/v1/greetings",
            content=b"x" * 4096,
            headers={**auth, "content-type": "application/json"},
        )
        assert too_large.status_code == 413
        assert too_large.json()["type"] == "/problems/payload-too-large"

        missing = await client.get("/v1/nothing-here")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        wrong_method = await client.delete("/v1/greetings", headers=auth)
        assert wrong_method.status_code == 405


async def test_metrics_show_http_and_event_metrics() -> None:
    settings = isolated_settings(CommonSettings, service_name="demo-metrics")
    async with running(app_with(settings)) as client:
        await client.post("/v1/greetings", json={"name": "ada"}, headers=bearer("a", "p"))
        body = (await client.get("/metrics")).text
    assert (
        'northstar_http_requests_total{method="POST",route="/v1/greetings",'
        'service="demo-metrics",status="201"} 1.0'
    ) in body
    for name in (
        "northstar_http_request_duration_seconds",
        "northstar_events_published_total",
        "northstar_events_consumed_total",
        "northstar_events_dead_lettered_total",
        "northstar_consumer_lag",
        "northstar_outbox_oldest_pending_age_seconds",
    ):
        assert f"# TYPE {name}" in body


@pytest.fixture
def private_store(tmp_path: Path) -> Iterator[tuple[DocumentStore, Path]]:
    store = DocumentStore(port=free_port(), name="private-docstore")
    store.start(tmp_path)
    yield store, tmp_path
    store.process(tmp_path).stop()


async def test_readiness_is_503_while_the_document_store_is_down_and_200_when_back(
    private_store: tuple[DocumentStore, Path],
) -> None:
    store, state = private_store
    settings = isolated_settings(CommonSettings, service_name="demo-ready", mongodb_uri=store.uri)
    async with running(app_with(settings), drop_database=False) as client:
        assert (await client.get("/readyz")).status_code == 200

        store.process(state).stop()
        down = await client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"] == {"document_store": False, "kafka": True}
        assert down.headers["retry-after"] == "5"
        assert (await client.get("/healthz")).status_code == 200  # alive, just not ready

        store.start(state)
        await eventually(lambda: _ready(client), timeout=20)


async def _ready(client) -> bool:  # type: ignore[no-untyped-def]
    return (await client.get("/readyz")).status_code == 200
