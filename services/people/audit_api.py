"""The audit API (JWT, HR admins and admins; API keys with ``audit:read`` search and export):
search, CSV export, retention setting."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from services.people.audit import AuditQuery, AuditRecords
from shared.audit import Actor
from shared.auth import HROrKeyPrincipal, HRPrincipal, api_key_resource
from shared.errors import InvalidInput, RuleNotMet
from shared.pagination import CURSOR_DESCRIPTION, Page

# API keys: ``audit:read`` searches and exports (the settings stay with HR and admins)
router = APIRouter(prefix="/v1", tags=["audit"], dependencies=[api_key_resource("audit")])

# one export answers at most this many records: narrow the time window for more
MAX_EXPORT_ROWS = 100_000
MAX_RETENTION_DAYS = 3650


class AuditActor(BaseModel):
    type: str
    id: str
    roles: list[str] = []


class AuditObject(BaseModel):
    type: str
    id: str


class AuditRecordPublic(BaseModel):
    id: str
    service: str
    action: str
    actor: AuditActor
    object: AuditObject
    at: datetime
    before: dict[str, Any]
    after: dict[str, Any]
    details: dict[str, Any]
    request_id: str | None = None
    trace_id: str | None = None


class AuditSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retention_days: int = Field(ge=1, le=MAX_RETENTION_DAYS, strict=True)


def _records(request: Request) -> AuditRecords:
    records: AuditRecords = request.app.state.audit_records
    return records


# the document store cannot hold (nor search for) a NUL character: refused as the schema says
Text = Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
# an RFC 3339 date-time with its offset, parsed here: FastAPI's datetime would also take a bare
# number as a Unix time, which the schema's date-time does not allow (found by the fuzzer)
_DATE_TIME = {"format": "date-time"}
From = Annotated[
    str | None,
    Query(alias="from", description="Inclusive (RFC 3339).", json_schema_extra=_DATE_TIME),
]
To = Annotated[
    str | None,
    Query(alias="to", description="Exclusive (RFC 3339).", json_schema_extra=_DATE_TIME),
]


def _date_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if "T" in value.upper() else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(
            f"{name} is not an RFC 3339 date-time with an offset (e.g. 2026-12-01T00:00:00Z)",
            field=name,
        )
    return parsed


def _query(
    actor: Text = None,
    object_type: Text = None,
    object_id: Text = None,
    action: Text = None,
    start: From = None,
    end: To = None,
) -> AuditQuery:
    """The search both routes take (a dependency: the same query parameters on each)."""
    since, until = _date_time(start, "from"), _date_time(end, "to")
    if since is not None and until is not None and since >= until:
        raise RuleNotMet("from must be before to", field="from")
    return AuditQuery(actor, object_type, object_id, action, since, until)


Search = Annotated[AuditQuery, Depends(_query)]


@router.get("/audit", response_model=Page[AuditRecordPublic])
async def search_audit(
    request: Request,
    principal: HROrKeyPrincipal,
    query: Search,
    cursor: Annotated[str | None, Query(description=CURSOR_DESCRIPTION)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[AuditRecordPublic]:
    """The tenant's audit trail, newest first: who did what to which object, and when."""
    items, next_cursor = await _records(request).search(principal.tenant, query, cursor, limit)
    return Page[AuditRecordPublic](
        items=[AuditRecordPublic.model_validate(i) for i in items], next_cursor=next_cursor
    )


@router.get(
    "/audit.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_audit(
    request: Request,
    principal: HROrKeyPrincipal,
    query: Search,
) -> StreamingResponse:
    """The same search as CSV, newest first (at most 100,000 rows: narrow ``from``/``to``)."""
    lines = _records(request).export(principal.tenant, query, MAX_EXPORT_ROWS)
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


@router.get("/audit-settings", response_model=AuditSettings)
async def get_audit_settings(request: Request, principal: HRPrincipal) -> AuditSettings:
    """How many days the tenant's audit records are kept (365 unless set)."""
    return AuditSettings(retention_days=await _records(request).retention_days(principal.tenant))


@router.put("/audit-settings", response_model=AuditSettings)
async def put_audit_settings(
    request: Request, principal: HRPrincipal, body: AuditSettings
) -> AuditSettings:
    """Set the retention; records older than it are purged by a periodic job."""
    await _records(request).set_retention_days(
        principal.tenant, body.retention_days, Actor.of(principal)
    )
    request.app.state.outbox.notify()
    return body
