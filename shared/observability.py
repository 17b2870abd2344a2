"""JSON logs, Prometheus metrics and the HTTP middleware that feeds them.

Metrics live in the process-wide default registry and carry a ``service`` label, so several
apps in one process (tests) share them without clashing.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from typing import Any

import structlog
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.tracing import add_trace_ids, continued_span

HTTP_REQUESTS = Counter(
    "northstar_http_requests_total",
    "HTTP requests by route and status",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "northstar_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_IN_FLIGHT = Gauge(
    "northstar_http_requests_in_flight", "HTTP requests being served", ["service"]
)
EVENTS_PUBLISHED = Counter(
    "northstar_events_published_total",
    "Events acknowledged by the broker",
    ["service", "topic", "type"],
)
EVENT_PUBLISH_FAILURES = Counter(
    "northstar_event_publish_failures_total", "Event publishes that failed", ["service", "topic"]
)
EVENTS_CONSUMED = Counter(
    "northstar_events_consumed_total",
    "Events handled by consumers, by outcome",
    ["service", "group", "topic", "type", "outcome"],
)
EVENT_HANDLER_LATENCY = Histogram(
    "northstar_event_handler_duration_seconds",
    "Time spent in an event handler",
    ["service", "group", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_RETRIED = Counter(
    "northstar_events_retried_total",
    "Handler attempts retried after an error",
    ["service", "group", "type"],
)
EVENTS_DEAD_LETTERED = Counter(
    "northstar_events_dead_lettered_total",
    "Poison records sent to a dead-letter topic",
    ["service", "group", "topic"],
)
CONSUMER_LAG = Gauge(
    "northstar_consumer_lag",
    "Records between a consumer's position and the partition's end",
    ["service", "group", "topic", "partition"],
)
OUTBOX_PENDING = Gauge(
    "northstar_outbox_pending_documents",
    "Aggregates holding unpublished events",
    ["service", "collection"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "northstar_outbox_oldest_pending_age_seconds",
    "Age of the oldest unpublished event",
    ["service", "collection"],
)
OUTBOX_RELAYED = Counter(
    "northstar_outbox_relayed_events_total",
    "Events relayed from an outbox",
    ["service", "collection"],
)


def configure_logging(level: str = "INFO") -> None:
    """Render every log line (ours and the libraries') as one JSON object."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # during a broker outage aiokafka logs every failed connection attempt (155,000 lines in
    # 20 s were seen): keep one line per message template and interval
    if not any(isinstance(f, RepeatFilter) for f in handler.filters):
        handler.addFilter(RepeatFilter(("aiokafka",), interval_s=10.0))
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


class RepeatFilter(logging.Filter):
    """Lets one record per (logger, message template) through each interval, for chatty libraries;
    the next one that passes says how many were dropped."""

    def __init__(self, prefixes: tuple[str, ...], interval_s: float) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._interval = interval_s
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefixes):
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last, dropped = self._seen.get(key, (0.0, 0))
        if now - last < self._interval:
            self._seen[key] = (last, dropped + 1)
            return False
        if dropped:
            record.msg = f"{record.msg} (and {dropped} more like it in the last interval)"
        self._seen[key] = (now, 0)
        return True


class Children:
    """A metric's labelled children, each looked up once: ``labels()`` checks its arguments and
    takes a lock on every call, a measurable part of a webhook's CPU on the hot path.
    ``fixed`` are the first label values (the service); the label sets seen stay in memory, as
    they do in the metric itself."""

    def __init__(self, metric: Any, *fixed: str) -> None:
        self._metric = metric
        self._fixed = fixed
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*self._fixed, *values)
        return child


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


class RequestContextMiddleware:
    """Request id (bound to every log line of the request), the request's span and RED metrics.

    The span continues the W3C ``traceparent`` the request brings, or starts a trace; events the
    request produces carry it (shared.tracing).

        Pure ASGI (not BaseHTTPMiddleware) so it adds almost nothing to the hot path of webhook
        ingest.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self._in_flight = HTTP_IN_FLIGHT.labels(service)
        self._requests = Children(HTTP_REQUESTS, service)
        self._latency = Children(HTTP_LATENCY, service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        traceparent: str | None = None
        for name, value in scope.get("headers") or ():
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"traceparent":
                traceparent = value.decode("latin-1")
        # a request id names, it does not protect: no system call for randomness per request
        request_id = request_id or f"{random.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        self._in_flight.inc()
        method = scope["method"]
        try:
            with continued_span(method, traceparent, kind=SpanKind.SERVER) as span:
                try:
                    await self.app(scope, receive, send_with_id)
                finally:
                    span.update_name(f"{method} {_template(scope)}")
                    span.set_attribute("http.response.status_code", status)
        finally:
            self._in_flight.dec()
            self._observe(scope, method, status, started)
            structlog.contextvars.clear_contextvars()

    def _observe(self, scope: Scope, method: str, status: int, started: float) -> None:
        template = _template(scope)
        self._requests(method, template, str(status)).inc()
        self._latency(method, template).observe(time.perf_counter() - started)


def _template(scope: Scope) -> str:
    # the route template, not the raw path, keeps label cardinality bounded
    return getattr(scope.get("route"), "path", None) or "unmatched"
