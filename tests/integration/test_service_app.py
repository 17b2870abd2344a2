"""The app factory on the real servers: readiness, metrics, problem details, auth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from deploy.local.servers import DocumentStore, free_port
from shared.app import Lifecycle, create_service_app
from shared.auth import CurrentPrincipal
from shared.config import CommonSettings
from shared.errors import Conflict
from shared.events import Envelope
from shared.events.envelope import new_event
from shared.events.people import PersonManagerChanged
from shared.events.topics import PEOPLE
from shared.messaging import Router
from shared.messaging.outbox import HAS_PENDING
from shared.mongo import Document
from tests.otlp import Collector
from tests.support import bearer, eventually, isolated_settings, read_topic, running

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

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"x" * 1024

        unannounced = await client.post(  # chunked: no content-length to refuse it early
            "/v1/greetings", content=chunks(), headers={**auth, "content-type": "application/json"}
        )
        assert unannounced.status_code == 413
        assert unannounced.json()["type"] == "/problems/payload-too-large"
        assert unannounced.headers["x-request-id"]

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


class Handovers:
    """A repository whose documents carry their events, as every aggregate's do."""

    def __init__(self, db: Any) -> None:
        self.collection = db["handovers"]
        self.outboxes = (self.collection,)

    async def record(self, tenant: str, person: str, manager: str) -> Envelope:
        change = PersonManagerChanged(id=person, tenant=tenant, new_manager_id=manager)
        event = new_event(change, tenant=tenant, subject=person, source="demo")
        document: Document = {"_id": event.id, "pending_events": [event.to_document()]}
        await self.collection.insert_one(document)
        return event


class Journal:
    """A job (and a client to close) that write when they start and stop."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    async def start(self) -> None:
        self.entries.append("job started")

    async def stop(self) -> None:
        self.entries.append("job stopped")

    async def close(self) -> None:
        self.entries.append("client closed")


def service_with(settings: CommonSettings, journal: Journal, consumed: list[str]) -> FastAPI:
    async def wiring(service: Lifecycle) -> None:
        handovers = Handovers(service.db)
        service.relay(handovers)
        router = Router()

        @router.on(PersonManagerChanged)
        async def seen(event: Envelope, payload: PersonManagerChanged) -> None:
            consumed.append(event.id)

        service.consume(router, group="demo")
        service.run(journal)
        service.on_stop(journal.close)
        service.provide(handovers=handovers)

    return create_service_app(
        name=settings.service_name, settings=settings, topics=[PEOPLE], wiring=wiring
    )


async def test_the_factory_runs_what_a_service_declares_and_stops_it_in_reverse() -> None:
    settings = isolated_settings(CommonSettings, service_name="demo-lifecycle")
    journal, consumed = Journal(), []
    app = service_with(settings, journal, consumed)
    async with running(app):
        assert journal.entries == ["job started"]
        handovers: Handovers = app.state.handovers
        event = await handovers.record("acme", "p1", "m1")
        app.state.outbox.notify()  # relayed now, consumed by the service's own consumer

        await eventually(lambda: consumed == [event.id])
        await eventually(lambda: _relayed(handovers))
    assert journal.entries == ["job started", "job stopped", "client closed"]


async def test_with_consumers_switched_off_the_outbox_is_still_relayed() -> None:
    settings = isolated_settings(
        CommonSettings, service_name="demo-no-consumers", consumers_enabled=False
    )
    app = service_with(settings, journal := Journal(), [])
    async with running(app):
        event = await app.state.handovers.record("acme", "p1", "m1")
        app.state.outbox.notify()
        records = await read_topic(settings, PEOPLE, enough=lambda found: len(found) >= 1)
        assert {dict(r.headers)["ce_id"].decode() for r in records} == {event.id}
        await eventually(lambda: _relayed(app.state.handovers))
        assert journal.entries == ["job started"]  # jobs run whatever the switch says


async def _relayed(handovers: Handovers) -> bool:
    return await handovers.collection.find_one(HAS_PENDING) is None


async def test_an_app_with_otlp_on_exports_its_request_spans_and_flushes_them_on_stop() -> None:
    """The app factory wires the exporter from the settings (the lifespan starts it, the stop
    flushes it); the collector is a loopback receiver."""
    settings = isolated_settings(CommonSettings, service_name="demo")
    with Collector() as collector:
        settings = settings.model_copy(update={"otlp_endpoint": collector.url})
        async with running(app_with(settings)) as client:
            response = await client.get("/healthz", headers={"traceparent": TRACEPARENT})
            assert response.status_code == 200
        names = [name for name, trace in collector.spans() if trace == TRACE_ID]
        # one span for the request (shared.observability's): FastAPI's own telemetry, a second
        # server span and spans of its steps, stays off
        assert names == ["GET /healthz"], names


TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
