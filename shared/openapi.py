"""The problem responses of every route, written into the service's OpenAPI document.

FastAPI documents a route's success and its own validation error (as ``application/json``,
which is not what the problem handlers send). What else a route can answer follows from what
it is, so one function adds it to every operation, including routes added later:

- every operation: 422 (invalid input) and 503 (a dependency is down);
- behind a credential (``security`` in the operation): 401, and 403 when the credential is the
  people's JWT, whose roles and org-chart relations decide what it may do;
- a path parameter, or a body that may name other objects: 404;
- a method that changes state: 409 (a conflict or a lost optimistic-concurrency race) and 413
  (every body is bounded by the app, declared or read raw).

Others (429 of a rate-limited route, 404 of a route without path parameters) are declared on the
route with FastAPI's ``responses=``; they get the problem content too. A path prefix whose errors
a service renders in another format (SCIM) is documented with that format's media type and
schema (an :class:`ErrorFormat`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.pagination import CURSOR_DESCRIPTION
from shared.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; services may add members of their own.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "`/problems/<code>`, stable per kind"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "the request path"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "each invalid input of a 422",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    401: "No valid credentials",
    403: "The caller's roles or relation to the object do not allow this",
    404: "Not found, or not in the caller's tenant",
    409: "Conflicts with the current state (or a concurrent change: retry)",
    413: "The request body is too large",
    415: "The request body's media type is not accepted",
    400: "The body is not UTF-8 JSON text",
    422: (
        "The request is not valid: `/problems/invalid-input` (against the schema), "
        "`/problems/rule-not-met` (a rule between fields the schema cannot say, told in the "
        "fields' descriptions), `/problems/invalid-cursor` (a cursor the API did not return), "
        "`/problems/unstorable-text` (text the document store cannot hold: a NUL character "
        "on FerretDB over PostgreSQL; nothing is written)"
    ),
    429: "Too many requests: retry after `Retry-After` seconds",
    503: "A dependency is down: retry after `Retry-After` seconds",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}},
}
_CHANGES_STATE = {"post", "put", "patch", "delete"}
_HAS_BODY = {"post", "put", "patch"}
# the security scheme of the people's JWT (shared.auth): the one that carries roles
ROLE_SCHEME = "HTTPBearer"


@dataclass(frozen=True)
class ErrorFormat:
    """How the errors under a path prefix are rendered instead of problem details (SCIM)."""

    media_type: str
    schema_name: str
    schema: dict[str, Any]
    # the status FastAPI's own validation errors get in this format
    invalid_status: int = 422
    descriptions: dict[int, str] = field(default_factory=dict)


PROBLEM_FORMAT = ErrorFormat(PROBLEM_JSON, "Problem", PROBLEM_SCHEMA)


def problem_statuses(method: str, operation: dict[str, Any], invalid_status: int = 422) -> set[int]:
    """The error statuses an operation can answer, by what it is (see the module doc)."""
    statuses = {invalid_status, 503}
    schemes = {name for requirement in operation.get("security", ()) for name in requirement}
    if schemes:
        statuses.add(401)
    if ROLE_SCHEME in schemes:
        statuses.add(403)
    has_path_parameter = any(p.get("in") == "path" for p in operation.get("parameters", ()))
    if has_path_parameter or "requestBody" in operation:
        statuses.add(404)
    if method in _CHANGES_STATE:
        statuses.add(409)
    if "requestBody" in operation or method in _HAS_BODY:
        statuses |= {400, 413}
    return statuses


def error_response(
    status: int, error_format: ErrorFormat = PROBLEM_FORMAT, description: str | None = None
) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{error_format.schema_name}"}
    response: dict[str, Any] = {
        "description": description
        or error_format.descriptions.get(status)
        or DESCRIPTIONS.get(status, "Error"),
        "content": {error_format.media_type: {"schema": ref}},
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response


def add_problem_responses(
    spec: dict[str, Any], formats: Mapping[str, ErrorFormat] | None = None
) -> None:
    """Document the error responses of every operation of ``spec`` in place.

    ``formats`` maps a path prefix to the error format its routes answer in (problem details
    elsewhere).
    """
    formats = dict(formats or {})
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for error_format in (PROBLEM_FORMAT, *formats.values()):
        schemas[error_format.schema_name] = error_format.schema
    for path, operations in spec.get("paths", {}).items():
        error_format = next(
            (f for prefix, f in formats.items() if path.startswith(prefix)), PROBLEM_FORMAT
        )
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                # every list pages with the same opaque cursor (shared.pagination)
                if parameter.get("in") == "query" and parameter.get("name") == "cursor":
                    parameter.setdefault("description", CURSOR_DESCRIPTION)
            responses = operation.setdefault("responses", {})
            if error_format.invalid_status != 422:
                responses.pop("422", None)  # FastAPI's, answered with another status here
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            statuses = declared | problem_statuses(method, operation, error_format.invalid_status)
            for status in sorted(statuses):
                existing = responses.get(str(status), {})
                # FastAPI's own 422 names HTTPValidationError; ours is a problem
                description = None if status == 422 else existing.get("description")
                responses[str(status)] = {
                    **existing,
                    **error_response(status, error_format, description),
                }
    # nothing refers to FastAPI's validation models any more
    refs = str(spec.get("paths"))
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas and f"/{name}'" not in refs:
            del schemas[name]


def install_problem_documentation(
    app: FastAPI, formats: Mapping[str, ErrorFormat] | None = None
) -> None:
    """Make ``app.openapi()`` document every route's error responses (computed once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            add_problem_responses(spec, formats)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
