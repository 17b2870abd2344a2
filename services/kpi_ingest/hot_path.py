"""The webhook route served straight from ASGI: the hot path of ingest, apart from the framework.

A profile of single-point webhooks (py-spy, 2026-12-05) put FastAPI's and Starlette's routing,
dependency solving, exception middleware and exit stacks at about a fifth of a request's CPU,
more than the use case's own code. ``WebhookEndpoint`` sits inside the request-context and
body-size middlewares (request id, span, metrics and the body limit still apply) and answers
``POST /v1/webhooks/{source_id}`` itself; every other request goes on to FastAPI. The FastAPI
route of the same path stays: it documents the route in the OpenAPI and serves it the same way
where this middleware is not installed. An error is rendered by the app's own exception handlers,
so an answer is the same either way.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kpi_ingest.ingest import Ingest, Reply

WEBHOOK_PATH = re.compile(r"/v1/webhooks/([^/]+)")
_JSON = [(b"content-type", b"application/json")]


async def deliver(
    ingest: Ingest,
    source_id: str,
    body: Callable[[], Awaitable[bytes]],
    headers: Any,
    arrived: datetime,
) -> Reply:
    """One delivery; the body is read once admitted (a full process refuses before reading)."""
    length = headers.get("content-length", "")
    async with ingest.admission.slot(int(length) if length.isdigit() else 0):
        return await ingest.receive(source_id, await body(), headers, arrived)


class WebhookEndpoint:
    """ASGI middleware: answers webhook deliveries itself, passes everything else on."""

    def __init__(self, app: ASGIApp, route: Any) -> None:
        self.app = app
        self.route = route  # the FastAPI route: its template names the metrics and the span

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = (
            WEBHOOK_PATH.fullmatch(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if match is None:
            await self.app(scope, receive, send)
            return
        arrived = datetime.now(UTC)  # the signature's age is judged here, not after any wait
        scope["route"] = self.route
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        try:
            ingest: Ingest = scope["app"].state.kpi_ingest
            reply = await deliver(ingest, match.group(1), lambda: _body(receive), headers, arrived)
        except Exception as exc:
            await _render(exc, scope, receive, send)
            return
        body = orjson.dumps(reply.body)
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [*_JSON, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()  # as Starlette's Request.body() does
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _render(exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
    """The answer the app's exception handlers give for ``exc`` (problem details, 4xx/503)."""
    handlers = scope["app"].exception_handlers
    for kind in type(exc).__mro__:
        handler = handlers.get(kind)
        if handler is not None:
            response = await handler(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
    raise exc
