"""RFC 9457 problem details: how every error of every service is rendered.

One handler per kind of error (domain errors, validation, HTTP errors, the unexpected) turns it
into ``application/problem+json``, unless a service registered another format for a path prefix
(SCIM answers in its own error format).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pymongo.errors import OperationFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import DomainError, TooManyRequests, Unavailable
from shared.observability import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

ErrorRenderer = Callable[[Request, int, str, str, dict[str, Any]], Response]


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def render_error(
    request: Request,
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Problem details, unless a service registered another format for this path (SCIM)."""
    renderers: dict[str, ErrorRenderer] = getattr(request.app.state, "error_renderers", {})
    for prefix, renderer in renderers.items():
        if request.url.path.startswith(prefix):
            response = renderer(request, status, code, detail, extra)
            for name, value in (headers or {}).items():
                response.headers[name] = value
            return response
    return problem_response(
        status,
        code,
        title,
        detail,
        headers=headers,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        **extra,
    )


def allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI documents for the request's path.

    Starlette's own 405 names only the first route that matched the path (GET and POST of one
    path are two routes). A literal path wins over a template that also matches it
    (``/Users/.search`` over ``/Users/{id}``), as in the document.
    """
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    for template in sorted(paths, key=lambda t: t.count("{")):
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            return sorted(method.upper() for method in paths[template])
    return []


def install_problem_handlers(app: FastAPI, renderers: dict[str, ErrorRenderer]) -> None:
    """Render every error of ``app`` as a problem (or with the renderer of its path prefix)."""
    app.state.error_renderers = dict(renderers)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return render_error(
            request, exc.status, exc.code, exc.title, exc.detail, headers=headers, **exc.extra
        )

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> Response:
        return render_error(
            request,
            503,
            "unavailable",
            "Temporarily unavailable",
            exc.detail,
            headers={"Retry-After": str(exc.retry_after)},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return render_error(
            request,
            422,
            "invalid-input",
            "The request is not valid",
            f"{where}: {first['msg']}" if where else str(first["msg"]),
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed", 413: "The request is too large"}
        code = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}.get(
            exc.status_code, "http-error"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return render_error(
            request,
            exc.status_code,
            code,
            titles.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            headers=headers,
        )

    @app.exception_handler(OperationFailure)
    async def store_refused(request: Request, exc: OperationFailure) -> Response:
        # PostgreSQL under FerretDB cannot hold a NUL character in text (SQLSTATE 22P05): the
        # write failed whole, so the request is refused like other input; MongoDB stores it
        if "SQLSTATE 22P05" in str(exc):
            return render_error(
                request,
                422,
                "unstorable-text",
                "The text cannot be stored",
                "text with a NUL character cannot be stored; nothing was written",
            )
        return await unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        return render_error(
            request,
            500,
            "internal-error",
            "Internal error",
            "an unexpected error occurred; it has been logged",
        )
