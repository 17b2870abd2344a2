"""Admin: API keys for integrations (the people service's ``/v1/api-keys``).

A new key is shown once, on the page that answers the request that created it; web never stores
it. Revoking asks for confirmation on a page of its own (no script).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web.client import Api, ApiProblem
from services.web.goal_forms import form_values
from services.web.pages.admin_integrations import _errors, _or_forbidden
from services.web.security import HRSession, PageNotFound
from services.web.sessions import Session
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

# what each scope lets a key do (the people service refuses any other)
SCOPES = [
    ("kpi:write", "Manage KPI sources and metrics"),
    ("kpi:read", "Read KPI sources, metrics and series"),
    ("goals:read", "Read every goal"),
    ("people:read", "Read the directory"),
    ("audit:read", "Search and export the audit trail"),
]
EXPIRIES = [("30", "30 days"), ("90", "90 days"), ("180", "180 days"), ("365", "365 days")]
DEFAULT_EXPIRY = "90"


async def _keys_page(
    request: Request,
    session: Session,
    api: Api,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    created: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    keys, forbidden = await _or_forbidden(api.get("people", "/v1/api-keys", session, limit=200))
    context = {
        "keys": keys["items"] if keys else [],
        "forbidden": forbidden,
        "values": values or {"expires_in": DEFAULT_EXPIRY, "scopes": []},
        "errors": errors or {},
        "created": created,
        "scopes": SCOPES,
        "expiries": EXPIRIES,
        "revoked": request.query_params.get("revoked"),
        "now_iso": datetime.now(UTC).isoformat(),
    }
    return await page(
        request,
        "admin/api_keys.html",
        context,
        session=session,
        status_code=status_code,
        title="API keys",
    )


@router.get("/admin/api-keys")
async def api_keys_page(request: Request, session: HRSession, api: ApiDep) -> Response:
    return await _keys_page(request, session, api)


@router.post("/admin/api-keys")
async def issue_api_key(request: Request, session: HRSession, api: ApiDep) -> Response:
    form = await request.form()
    values: dict[str, Any] = form_values(form)
    values["scopes"] = [str(s) for s in form.getlist("scopes")]
    errors: dict[str, str] = {}
    days = values.get("expires_in", DEFAULT_EXPIRY)
    if days not in dict(EXPIRIES):
        errors["expires_in"] = "Choose one of the expiries."
    if not values["scopes"]:
        errors["scopes"] = "Choose at least one scope."
    if not values.get("name", "").strip():
        errors["name"] = "Name the key (e.g. the integration using it)."
    if errors:
        return await _keys_page(
            request, session, api, values=values, errors=errors, status_code=422
        )
    body = {
        "name": values["name"].strip(),
        "scopes": values["scopes"],
        "expires_at": (datetime.now(UTC) + timedelta(days=int(days))).isoformat(),
    }
    try:
        created = await api.post("people", "/v1/api-keys", session, body)
    except ApiProblem as problem:
        errors = _errors(problem, "name")
        if any(k.startswith("scopes") for k in errors):
            errors["scopes"] = "Choose among the scopes listed."
        if "expires_at" in errors:
            errors["expires_in"] = errors.pop("expires_at")
        return await _keys_page(
            request, session, api, values=values, errors=errors, status_code=422
        )
    return await _keys_page(request, session, api, created=created)


async def _key(api: Api, session: Session, key_id: str) -> dict[str, Any]:
    keys = await api.get("people", "/v1/api-keys", session, limit=200)
    for key in keys["items"]:
        if key["key_id"] == key_id:
            return dict(key)
    raise PageNotFound()


@router.get("/admin/api-keys/{key_id}/revoke")
async def confirm_revocation(
    request: Request, key_id: str, session: HRSession, api: ApiDep
) -> Response:
    key = await _key(api, session, key_id)
    return await page(
        request,
        "admin/revoke_api_key.html",
        {"key": key},
        session=session,
        title=f"Revoke the API key {key['name']}",
    )


@router.post("/admin/api-keys/{key_id}/revoke")
async def revoke_api_key(key_id: str, session: HRSession, api: ApiDep) -> Response:
    await api.delete("people", f"/v1/api-keys/{key_id}", session)
    return RedirectResponse(f"/admin/api-keys?revoked={key_id}", status_code=303)
