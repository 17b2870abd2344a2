"""Admin: the audit trail (people's ``GET /v1/audit``): search, pages, CSV export.

The search is a GET form, so a result page is a link an admin can share or go back to; the
filters travel unchanged to the next page and to the CSV export (``/admin/audit.csv``, the
people service's ``/v1/audit.csv`` passed through). Times are typed and shown in UTC.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.web.client import ApiProblem
from services.web.pages.reviews import people_names
from services.web.security import HRSession
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
TEXT_FILTERS = ("actor", "object_type", "object_id", "action")
TIME_FILTERS = ("from", "to")
# the actions and objects services record today (docs/audit.md): suggestions, not a limit
ACTIONS = (
    "scim_token.issued",
    "scim_token.revoked",
    "person.manager_changed",
    "person.deactivated",
    "person.deleted",
    "people_import.applied",
    "audit_settings.changed",
    "kpi_source.created",
    "kpi_source.secret_rotated",
    "kpi_source.deleted",
    "webhook_subscription.created",
    "webhook_subscription.deleted",
    "notification_defaults.changed",
    "goal.assigned",
    "goal.reviewed",
    "review.calibrated",
    "review_cycle.calibration_closed",
)
OBJECT_TYPES = sorted({action.split(".", 1)[0] for action in ACTIONS})


def api_time(value: str) -> str | None:
    """A ``datetime-local`` value (``2026-12-03T04:05``, read as UTC) as RFC 3339; None when
    it is not one (the field then says so instead of the API guessing)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None or "T" not in value:
        return None
    return parsed.isoformat(timespec="seconds") + "Z"


def search_params(values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The API's query parameters for the form's values, and the fields that are not valid."""
    params: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in TEXT_FILTERS:
        if values.get(name):
            params[name] = values[name]
    for name in TIME_FILTERS:
        if values.get(name):
            converted = api_time(values[name])
            if converted is None:
                errors[name] = "enter a date and time"
            else:
                params[name] = converted
    return params, errors


def _form(request: Request) -> dict[str, str]:
    return {
        name: request.query_params.get(name, "").strip() for name in (*TEXT_FILTERS, *TIME_FILTERS)
    }


def _api_errors(problem: ApiProblem) -> dict[str, str]:
    if problem.status >= 500 or problem.status in (403, 404):
        raise problem
    # a query parameter's problem names it ``query.actor``; the form's field is ``actor``
    fields = {k.removeprefix("query."): v for k, v in problem.fields.items() if k}
    return fields or {"": problem.detail}


def shown(value: Any) -> str:
    """A changed field's value as text (JSON for lists and objects, nothing for null)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def changes(
    record: dict[str, Any], people: dict[str, str] | None = None
) -> list[tuple[str, str, str]]:
    """(field, before, after) of every field the action changed; a person's id (a manager, who
    created a token) reads as their name."""
    before, after = record.get("before") or {}, record.get("after") or {}
    people = people or {}

    def text(values: dict[str, Any], field: str) -> str:
        value = values.get(field)
        return people[value] if isinstance(value, str) and value in people else shown(value)

    return [(field, text(before, field), text(after, field)) for field in sorted({*before, *after})]


def actor_label(actor: dict[str, Any], names: dict[str, str]) -> str:
    kind, actor_id = str(actor.get("type", "")), str(actor.get("id", ""))
    if kind == "person":
        return names.get(actor_id, actor_id)
    if kind == "system":
        return f"System ({actor_id})" if actor_id else "System"
    return f"{kind.replace('_', ' ').capitalize()} {actor_id}"


@router.get("/admin/audit")
async def audit_page(request: Request, session: HRSession, api: ApiDep) -> Response:
    values = _form(request)
    cursor = request.query_params.get("cursor") or None
    params, errors = search_params(values)
    records: list[dict[str, Any]] = []
    next_cursor = None
    if not errors:
        try:
            found = await api.get(
                "people", "/v1/audit", session, **params, cursor=cursor, limit=PAGE_SIZE
            )
            records, next_cursor = found["items"], found.get("next_cursor")
        except ApiProblem as problem:
            errors = _api_errors(problem)
    names = await people_names(api, session)
    filters = {k: v for k, v in values.items() if v}
    context = {
        "values": values,
        "errors": errors,
        "records": [
            {
                **r,
                "who": actor_label(r["actor"], names),
                "changes": changes(r, names),
                "details_text": shown(r["details"]) if r.get("details") else "",
            }
            for r in records
        ],
        "names": sorted(names.items(), key=lambda item: item[1]),
        "actions": ACTIONS,
        "object_types": OBJECT_TYPES,
        "first_url": f"/admin/audit?{urlencode(filters)}" if cursor else "",
        "next_url": f"/admin/audit?{urlencode({**filters, 'cursor': next_cursor})}"
        if next_cursor
        else "",
        # the same search as CSV (all its pages); none while the search itself is refused
        "csv_url": "" if errors else f"/admin/audit.csv?{urlencode(filters)}",
    }
    return await page(
        request,
        "admin/audit.html",
        context,
        session=session,
        status_code=422 if errors else 200,
        title="Audit trail",
    )


@router.get("/admin/audit.csv")
async def audit_csv(request: Request, session: HRSession, api: ApiDep) -> Response:
    params, errors = search_params(_form(request))
    if errors:
        raise ApiProblem(422, "; ".join(f"{k}: {v}" for k, v in errors.items()))
    path = "/v1/audit.csv" + (f"?{urlencode(params)}" if params else "")
    exported = await api.download("people", path, session)
    return Response(
        exported.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )
