"""Trace context with OpenTelemetry: continued from HTTP requests and events, carried by events.

An HTTP request continues the W3C ``traceparent`` it brings (or starts a trace); every event
built while a span is current carries that span as its ``traceparent`` extension (the
``ce_traceparent`` record header, see ``shared.events.envelope.new_event``), and the outbox keeps
it with the stored event. A consumer runs its handlers in a child span of the event's trace, so
the events they produce continue it. Log lines carry the current ``trace_id`` and ``span_id``.

Spans are recorded by the SDK's tracer provider (so a request without a ``traceparent`` gets
real ids); nothing is exported.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACER_NAME = "northstar"


def configure_tracing(service: str) -> None:
    """Install the SDK's tracer provider once per process (the global provider is set-once)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    trace.set_tracer_provider(TracerProvider(resource=Resource.create({SERVICE_NAME: service})))


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
