"""Admin: SCIM tokens, KPI sources and metrics, outbound webhook subscriptions.

A secret (SCIM token, webhook signing secret) is shown once, on the page that answers the
request that created it; it is never stored by web and never shown again.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web.client import Api, ApiProblem
from services.web.goal_forms import form_values
from services.web.security import HRSession
from services.web.sessions import Session
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

FORMATS = [
    ("generic", "A script (generic JSON)"),
    ("segment", "Segment"),
    ("amplitude", "Amplitude"),
    ("mixpanel", "Mixpanel"),
    ("posthog", "PostHog"),
    ("otlp", "OpenTelemetry (OTLP/HTTP JSON)"),
]
SERIES_DAYS = 30


def _errors(problem: ApiProblem, default_field: str) -> dict[str, str]:
    if problem.status >= 500:
        raise problem
    fields = {k: v for k, v in problem.fields.items() if k}
    return fields or {default_field: problem.detail}


async def _or_forbidden(call: Any) -> tuple[Any, str]:
    """The answer, or why the admin may not see it (SCIM tokens and sources need ``admin``)."""
    try:
        return await call, ""
    except ApiProblem as problem:
        if problem.status == 403:
            return None, "This needs the admin role."
        raise


# ------------------------------------------------------------------------------- tokens


async def _tokens_page(
    request: Request,
    session: Session,
    api: Api,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    created: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    tokens, forbidden = await _or_forbidden(api.get("people", "/v1/scim-tokens", session))
    context = {
        "tokens": tokens["items"] if tokens else [],
        "forbidden": forbidden,
        "values": values or {},
        "errors": errors or {},
        "created": created,
    }
    return await page(
        request,
        "admin/tokens.html",
        context,
        session=session,
        status_code=status_code,
        title="SCIM tokens",
    )


@router.get("/admin/tokens")
async def tokens_page(request: Request, session: HRSession, api: ApiDep) -> Response:
    return await _tokens_page(request, session, api)


@router.post("/admin/tokens")
async def issue_token(request: Request, session: HRSession, api: ApiDep) -> Response:
    values = form_values(await request.form())
    body = {"name": values.get("name", "").strip() or None}
    try:
        created = await api.post("people", "/v1/scim-tokens", session, body)
    except ApiProblem as problem:
        errors = _errors(problem, "name")
        return await _tokens_page(
            request, session, api, values=values, errors=errors, status_code=422
        )
    return await _tokens_page(request, session, api, created=created, status_code=200)


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke_token(token_id: str, session: HRSession, api: ApiDep) -> Response:
    await api.delete("people", f"/v1/scim-tokens/{token_id}", session)
    return RedirectResponse("/admin/tokens", status_code=303)


# An API 404 left unhandled is the 404 page (services.web.errors): no route repeats that.

# ---------------------------------------------------------------------------------- KPI


def webhook_url(api: Api, source: dict[str, Any]) -> str:
    base = api.settings.kpi_webhook_base_url or api.settings.kpi_ingest_url
    return base.rstrip("/") + str(source["webhook_path"])


def signed_example(url: str, secret: str) -> str:
    """A shell script that sends one signed point (Standard Webhooks) with curl and openssl."""
    point = {"metric": "adoption_rate", "value": 12, "dimensions": {"product": "mobile"}}
    body = json.dumps({"datapoints": [{**point, "timestamp": "__NOW__"}]}, separators=(",", ":"))
    head, tail = body.split("__NOW__")
    return "\n".join(
        [
            f"SECRET={shlex.quote(secret)}",
            f"URL={shlex.quote(url)}",
            f'BODY={shlex.quote(head)}"$(date -u +%Y-%m-%dT%H:%M:%SZ)"{shlex.quote(tail)}',
            'ID="msg_$(date +%s%N)"; TS="$(date +%s)"',
            "KEY=\"$(printf '%s' \"${SECRET#whsec_}\" | base64 -d | od -An -tx1 | tr -d ' \\n')\"",
            'SIG="$(printf \'%s\' "$ID.$TS.$BODY" | openssl dgst -sha256 -mac HMAC '
            '-macopt "hexkey:$KEY" -binary | base64)"',
            "curl -sS -X POST \"$URL\" -H 'content-type: application/json' "
            '-H "webhook-id: $ID" -H "webhook-timestamp: $TS" '
            '-H "webhook-signature: v1,$SIG" --data-raw "$BODY"',
        ]
    )


async def _series(api: Api, session: Session, metric: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    try:
        found = await api.get(
            "kpi_ingest",
            f"/v1/metrics/{metric['key']}/series",
            session,
            **{
                "from": (now - timedelta(days=SERIES_DAYS)).isoformat(),
                "to": now.isoformat(),
                "bucket": "day",
            },
        )
    except ApiProblem:
        found = {"items": [], "aggregation": ""}
    points = [{"at": b["start"][:10], "value": b["value"]} for b in found["items"]]
    return {"key": metric["key"], "name": metric["name"], "unit": metric["unit"], "points": points}


async def _kpi_page(
    request: Request,
    session: Session,
    api: Api,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    secret: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    sources, forbidden = await _or_forbidden(api.get("kpi_ingest", "/v1/sources", session))
    metrics = (await api.get("kpi_ingest", "/v1/metrics", session))["items"]
    shown = None
    if secret is not None:
        url = webhook_url(api, secret)
        shown = {**secret, "url": url, "example": signed_example(url, secret["secret"])}
    context = {
        "sources": [
            {**s, "url": webhook_url(api, s)} for s in (sources["items"] if sources else [])
        ],
        "forbidden": forbidden,
        "metrics": metrics,
        "charts": [await _series(api, session, m) for m in metrics],
        "formats": FORMATS,
        "values": values or {"format": "generic", "kind": "gauge"},
        "errors": errors or {},
        "secret": shown,
    }
    return await page(
        request,
        "admin/kpi.html",
        context,
        session=session,
        status_code=status_code,
        title="KPI sources and metrics",
    )


@router.get("/admin/kpi")
async def kpi_page(request: Request, session: HRSession, api: ApiDep) -> Response:
    return await _kpi_page(request, session, api)


@router.post("/admin/kpi/sources")
async def create_source(request: Request, session: HRSession, api: ApiDep) -> Response:
    values = form_values(await request.form())
    body = {"name": values.get("name", "").strip(), "format": values.get("format", "")}
    try:
        created = await api.post("kpi_ingest", "/v1/sources", session, body)
    except ApiProblem as problem:
        errors = _errors(problem, "name")
        return await _kpi_page(request, session, api, values=values, errors=errors, status_code=422)
    return await _kpi_page(request, session, api, secret=created, status_code=200)


@router.post("/admin/kpi/sources/{source_id}/rotate")
async def rotate_secret(
    request: Request, source_id: str, session: HRSession, api: ApiDep
) -> Response:
    rotated = await api.post("kpi_ingest", f"/v1/sources/{source_id}/rotate-secret", session)
    return await _kpi_page(request, session, api, secret=rotated)


def _thresholds(text: str) -> list[float] | None:
    try:
        return [float(part) for part in text.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        return None


@router.post("/admin/kpi/metrics")
async def define_metric(request: Request, session: HRSession, api: ApiDep) -> Response:
    values = form_values(await request.form())
    thresholds = _thresholds(values.get("thresholds", ""))
    errors: dict[str, str] = {}
    if thresholds is None:
        errors["thresholds"] = "numbers separated by commas, e.g. 25, 50"
    else:
        body = {
            "key": values.get("key", "").strip(),
            "name": values.get("metric_name", "").strip(),
            "unit": values.get("unit", "").strip(),
            "kind": values.get("kind", ""),
            "thresholds": thresholds,
        }
        try:
            await api.post("kpi_ingest", "/v1/metrics", session, body)
            return RedirectResponse("/admin/kpi", status_code=303)
        except ApiProblem as problem:
            errors = _errors(problem, "key")
            if "name" in errors:
                errors["metric_name"] = errors.pop("name")
    return await _kpi_page(request, session, api, values=values, errors=errors, status_code=422)


# ----------------------------------------------------------------------------- webhooks


async def _webhooks_page(
    request: Request,
    session: Session,
    api: Api,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    created: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    found, forbidden = await _or_forbidden(
        api.get("notifications", "/v1/webhook-subscriptions", session)
    )
    context = {
        "subscriptions": found["items"] if found else [],
        "forbidden": forbidden,
        "values": values or {},
        "errors": errors or {},
        "created": created,
    }
    return await page(
        request,
        "admin/webhooks.html",
        context,
        session=session,
        status_code=status_code,
        title="Outbound webhooks",
    )


@router.get("/admin/webhooks")
async def webhooks_page(request: Request, session: HRSession, api: ApiDep) -> Response:
    return await _webhooks_page(request, session, api)


@router.post("/admin/webhooks")
async def subscribe(request: Request, session: HRSession, api: ApiDep) -> Response:
    values = form_values(await request.form())
    body = {
        "url": values.get("url", "").strip(),
        "event_types": [t for t in values.get("event_types", "").replace(",", " ").split() if t],
        "description": values.get("description", "").strip() or None,
    }
    try:
        created = await api.post("notifications", "/v1/webhook-subscriptions", session, body)
    except ApiProblem as problem:
        errors = _errors(problem, "url")
        return await _webhooks_page(
            request, session, api, values=values, errors=errors, status_code=422
        )
    return await _webhooks_page(request, session, api, created=created, status_code=200)


@router.post("/admin/webhooks/{subscription_id}/delete")
async def unsubscribe(subscription_id: str, session: HRSession, api: ApiDep) -> Response:
    await api.delete("notifications", f"/v1/webhook-subscriptions/{subscription_id}", session)
    return RedirectResponse("/admin/webhooks", status_code=303)
