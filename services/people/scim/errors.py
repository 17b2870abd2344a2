"""SCIM errors (RFC 7644 §3.12) instead of problem details on ``/scim/v2``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from shared.errors import DomainError
from shared.openapi import ErrorFormat

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

# what the OpenAPI says of the errors under /scim/v2
SCIM_ERROR_FORMAT = ErrorFormat(
    media_type="application/scim+json",
    schema_name="ScimError",
    schema={
        "title": "ScimError",
        "description": "A SCIM error (RFC 7644 §3.12)",
        "type": "object",
        "required": ["schemas", "status"],
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string", "const": ERROR_SCHEMA}},
            "status": {"type": "string", "pattern": "^[45][0-9][0-9]$"},
            "scimType": {"type": "string"},
            "detail": {"type": "string"},
        },
    },
    invalid_status=400,
    descriptions={400: "Invalid syntax, filter, path or value (`scimType` says which)"},
)

# our problem codes -> SCIM scimType
_SCIM_TYPES = {
    "conflict": "uniqueness",
    "invalid-input": "invalidValue",
    "manager-cycle": "invalidValue",
    "payload-too-large": "tooMany",
}


class ScimError(DomainError):
    """An error that carries its SCIM status and scimType."""

    code, title = "scim-error", "SCIM error"

    def __init__(self, detail: str, *, status: int = 400, scim_type: str | None = None) -> None:
        super().__init__(detail, scim_type=scim_type)
        self.status = status


def render_scim_error(
    request: Request, status: int, code: str, detail: str, extra: dict[str, Any]
) -> Response:
    """The renderer registered for the SCIM prefix in ``app.state.error_renderers``."""
    if status == 422:  # FastAPI's own validation (a bad query parameter): SCIM says 400
        status = 400
    scim_type = extra.get("scim_type") or _SCIM_TYPES.get(code)
    if status == 400 and scim_type is None:
        scim_type = "invalidValue"
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return JSONResponse(body, status_code=status, media_type="application/scim+json")
