"""Trace context with OpenTelemetry: continued from HTTP requests and events, carried by events.

An HTTP request continues the W3C ``traceparent`` it brings (or starts a trace); every event
built while a span is current carries that span as its ``traceparent`` extension (the
``ce_traceparent`` record header, see ``shared.events.envelope.new_event``), and the outbox keeps
it with the stored event. A consumer runs its handlers in a child span of the event's trace, so
the events they produce continue it. Log lines carry the current ``trace_id`` and ``span_id``.

Spans come from the SDK's tracer provider, so a request without a ``traceparent`` gets real
ids. They are exported over OTLP/HTTP (protobuf) only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set
(``CommonSettings.otlp_endpoint``): off by default, nothing leaves the process. Only while spans
are exported are they recorded, sampled as ``OTEL_TRACES_SAMPLER`` says (every span by default):
otherwise each span is a non-recording one that keeps its ids, so logs and events still carry
them, without the attributes, events and timings nobody would read (on the ingest hot path,
recording the three spans of a request cost about a fifth of its CPU).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACER_NAME = "northstar"


class WhileExporting(Sampler):
    """Drops every span while no exporter is on, else asks ``inner``: a span nobody exports is
    not worth recording, but its ids are (the SDK gives a dropped span fresh ids all the same)."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner
        self.exporters = 0

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if self.exporters <= 0:
            parent = trace.get_current_span(parent_context).get_span_context()
            return SamplingResult(Decision.DROP, None, parent.trace_state)
        return self.inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"WhileExporting{{{self.inner.get_description()}}}"


def configure_tracing(service: str) -> TracerProvider:
    """Install the SDK's tracer provider once per process (the global provider is set-once)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        # the provider reads OTEL_TRACES_SAMPLER (and its argument) for the inner sampler
        default = TracerProvider(shutdown_on_exit=False)
        provider = TracerProvider(
            sampler=WhileExporting(default.sampler),
            resource=Resource.create({SERVICE_NAME: service}),
        )
        trace.set_tracer_provider(provider)
    return provider


def otlp_exporter(endpoint: str | None, timeout_s: float = 10.0) -> SpanExporter | None:
    """The OTLP/HTTP span exporter to a collector's base URL, or None when export is off."""
    if not endpoint:
        return None
    return OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces", timeout=timeout_s)


def export_spans(service: str, exporter: SpanExporter | None) -> SpanProcessor | None:
    """Send the spans that end from now on to ``exporter`` in batches (a background thread);
    the caller shuts the processor down when it stops, which flushes what is left. None: off.

    Batched so a slow or absent collector never delays a request: spans beyond the queue are
    dropped, and export errors are logged by the SDK, never raised here.
    """
    if exporter is None:
        return None
    provider = configure_tracing(service)
    sampler = provider.sampler if isinstance(provider.sampler, WhileExporting) else None
    processor = _UntilShutdown(BatchSpanProcessor(exporter), sampler)
    provider.add_span_processor(processor)
    return processor


class _UntilShutdown(SpanProcessor):
    """Forwards ended spans until shut down, then ignores them quietly: the global provider
    cannot drop a processor, and an app stopped in a process that goes on (tests, a reload)
    must not leave one that complains about every later span."""

    def __init__(self, inner: SpanProcessor, sampler: WhileExporting | None) -> None:
        self._inner = inner
        self._stopped = False
        self._sampler = sampler
        if sampler is not None:
            sampler.exporters += 1  # spans are recorded from now on

    def on_end(self, span: ReadableSpan) -> None:
        if not self._stopped:
            self._inner.on_end(span)

    def shutdown(self) -> None:
        if not self._stopped:
            self._stopped = True
            if self._sampler is not None:
                self._sampler.exporters -= 1
            self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._stopped or self._inner.force_flush(timeout_millis)


# a proxy until configure_tracing installs the provider; fetched once (get_tracer is costly)
_TRACER = trace.get_tracer(_TRACER_NAME)


def _tracer() -> trace.Tracer:
    return _TRACER


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None outside any trace."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id (32 hex digits) a valid ``traceparent`` names."""
    if not traceparent:
        return None
    context = trace.get_current_span(_PROPAGATOR.extract({"traceparent": traceparent}))
    span = context.get_span_context()
    return trace.format_trace_id(span.trace_id) if span.is_valid else None


@contextmanager
def continued_span(
    name: str,
    traceparent: str | None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: dict[str, Any] | None = None,
) -> Iterator[Span]:
    """A current span, child of ``traceparent`` when it is valid, else the root of a new trace."""
    parent = _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else None
    with _tracer().start_as_current_span(
        name, context=parent, kind=kind, attributes=attributes
    ) as span:
        yield span


@contextmanager
def new_trace(name: str) -> Iterator[Span]:
    """A current span that starts a trace of its own (a scheduled round: no request caused it)."""
    with _tracer().start_as_current_span(name, context=Context()) as span:
        yield span


def add_trace_ids(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the current span's ``trace_id`` and ``span_id`` on every line."""
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event_dict.setdefault("trace_id", trace.format_trace_id(span.trace_id))
        event_dict.setdefault("span_id", trace.format_span_id(span.span_id))
    return event_dict
