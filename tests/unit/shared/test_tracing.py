"""Trace context: spans continue a traceparent, events carry it, log lines name the trace."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from shared.events import new_event
from shared.events.people import PersonUpserted
from shared.observability import RequestContextMiddleware, configure_logging, get_logger
from shared.tracing import configure_tracing, continued_span, current_traceparent, trace_id_of

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

configure_tracing("test")


def person_event() -> object:
    return new_event(
        PersonUpserted(id="p1", tenant="acme", user_name="p1"),
        tenant="acme",
        subject="p1",
        source="test",
    )


def test_outside_any_span_an_event_carries_no_trace() -> None:
    assert current_traceparent() is None
    assert person_event().traceparent is None  # type: ignore[attr-defined]


def test_an_event_built_in_a_continued_span_carries_the_trace_as_a_child() -> None:
    with continued_span("work", TRACEPARENT):
        event = person_event()
    assert trace_id_of(event.traceparent) == TRACE_ID  # type: ignore[attr-defined]
    assert event.traceparent != TRACEPARENT  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", [None, "", "garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"])
def test_no_or_an_invalid_traceparent_starts_a_new_trace(bad: str | None) -> None:
    with continued_span("work", bad):
        traceparent = current_traceparent()
    assert trace_id_of(traceparent) not in (None, "0" * 32)


def test_log_lines_carry_the_trace_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    with continued_span("work", TRACEPARENT):
        get_logger("test").info("inside")
    get_logger("test").info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_event = {line["event"]: line for line in lines}
    inside, outside = by_event["inside"], by_event["outside"]
    assert inside["trace_id"] == TRACE_ID
    assert "trace_id" not in outside


async def test_an_http_request_continues_its_traceparent() -> None:
    app = FastAPI()
    seen: list[str | None] = []

    @app.get("/")
    async def handler() -> dict[str, str]:
        seen.append(current_traceparent())
        return {}

    traced = RequestContextMiddleware(app, service="test")
    async with AsyncClient(transport=ASGITransport(app=traced), base_url="http://t") as client:
        await client.get("/", headers={"traceparent": TRACEPARENT})
        await client.get("/")
    assert trace_id_of(seen[0]) == TRACE_ID
    assert trace_id_of(seen[1]) not in (None, TRACE_ID)


async def test_each_background_round_is_a_trace_of_its_own() -> None:
    import asyncio

    from shared.background import BackgroundLoop

    seen: list[str | None] = []
    done = asyncio.Event()

    async def round_() -> bool:
        seen.append(current_traceparent())
        if len(seen) == 2:
            done.set()
        return len(seen) < 2  # busy once: the second round follows at once

    with continued_span("the caller's request", TRACEPARENT):
        loop = BackgroundLoop("test-loop", round_, interval_s=60)
        await loop.start()
    await asyncio.wait_for(done.wait(), 10)
    await loop.stop()
    traces = [trace_id_of(t) for t in seen]
    assert None not in traces
    assert TRACE_ID not in traces  # not the trace of whoever started the loop
    assert traces[0] != traces[1]
