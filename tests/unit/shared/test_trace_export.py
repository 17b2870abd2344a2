"""OTLP export: off by default; when on, spans reach the collector's /v1/traces as OTLP/HTTP
protobuf with their trace id. The collector is a loopback HTTP receiver (no network)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.config import CommonSettings
from shared.tracing import configure_tracing, continued_span, export_spans, otlp_exporter
from tests.otlp import Collector

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as receiver:
        yield receiver


def test_export_is_off_unless_the_standard_variable_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("NORTHSTAR_OTLP_ENDPOINT", raising=False)
    settings = CommonSettings()
    assert settings.otlp_endpoint is None
    assert otlp_exporter(settings.otlp_endpoint) is None
    assert export_spans("test", None) is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318")
    assert CommonSettings().otlp_endpoint == "http://jaeger:4318"


def test_with_export_on_spans_reach_the_collector_with_their_trace(collector: Collector) -> None:
    configure_tracing("test")
    processor = export_spans("test", otlp_exporter(collector.url + "/", timeout_s=5))
    assert processor is not None
    with continued_span("exported work", TRACEPARENT):
        pass
    processor.shutdown()  # flushes the batch
    assert ("exported work", TRACE_ID) in collector.spans()

    # once shut down (the app stopped), later spans go nowhere and nothing complains
    sent = len(collector.received)
    with continued_span("after the stop", TRACEPARENT):
        pass
    processor.shutdown()
    assert len(collector.received) == sent


def test_with_export_off_the_collector_receives_nothing(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    settings = CommonSettings()
    processor = export_spans("test", otlp_exporter(settings.otlp_endpoint))
    with continued_span("kept in the process", TRACEPARENT):
        pass
    assert processor is None
    # an exporter to the collector, made and flushed after the span, proves it listens and
    # that the span above was never queued for it
    probe = export_spans("test", otlp_exporter(collector.url, timeout_s=5))
    assert probe is not None
    with continued_span("probe", TRACEPARENT):
        pass
    probe.shutdown()
    assert collector.spans() == [("probe", TRACE_ID)]


def test_spans_are_recorded_only_while_an_exporter_is_on(collector: Collector) -> None:
    """Recording costs the hot path (a fifth of a webhook's CPU) and nobody reads an unexported
    span; its ids still continue the trace, so logs and events carry them either way."""
    configure_tracing("test")
    with continued_span("unexported", TRACEPARENT) as span:
        context = span.get_span_context()
        assert not span.is_recording()
        assert format(context.trace_id, "032x") == TRACE_ID
        assert context.span_id != int("b7ad6b7169203331", 16)  # a span of its own
    with continued_span("a root", None) as root:
        assert not root.is_recording()
        assert root.get_span_context().is_valid

    processor = export_spans("test", otlp_exporter(collector.url, timeout_s=5))
    assert processor is not None
    with continued_span("exported", TRACEPARENT) as span:
        assert span.is_recording()
    processor.shutdown()
    with continued_span("after the stop", TRACEPARENT) as span:
        assert not span.is_recording()
