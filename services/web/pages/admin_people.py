"""HR admin: the directory with its org chart and deactivation, and HRIS imports (CSV)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.web.client import Api, ApiProblem
from services.web.security import HRSession, PageNotFound
from services.web.sessions import Session
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

MAX_CSV_BYTES = 2_000_000  # the people service caps an import at 20,000 rows
CHART_PAGES = 10  # the org chart reads at most 10 pages of 200 people


async def _everyone(api: Api, session: Session) -> list[dict[str, Any]]:
    people: list[dict[str, Any]] = []
    cursor = None
    for _ in range(CHART_PAGES):
        found = await api.get(
            "people", "/v1/people", session, active="true", limit=200, cursor=cursor
        )
        people.extend(found["items"])
        cursor = found.get("next_cursor")
        if not cursor:
            break
    return people


def org_chart(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Managers above their reports; a person whose manager is not active is a root."""
    by_id: dict[str, dict[str, Any]] = {p["id"]: {"person": p, "reports": []} for p in people}
    roots: list[dict[str, Any]] = []
    for node in by_id.values():
        manager = node["person"].get("manager_id")
        if manager in by_id and manager != node["person"]["id"]:
            by_id[manager]["reports"].append(node)
        else:
            roots.append(node)

    def sort(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nodes.sort(key=lambda n: n["person"].get("display_name") or n["person"]["user_name"])
        for n in nodes:
            sort(n["reports"])
        return nodes

    return sort(roots)


@router.get("/admin/people")
async def people_page(
    request: Request, session: HRSession, api: ApiDep, q: str = "", cursor: str = ""
) -> Response:
    directory = await api.get(
        "people", "/v1/people", session, q=q or None, cursor=cursor or None, limit=50
    )
    context = {
        "q": q,
        "people": directory["items"],
        "next_cursor": directory.get("next_cursor"),
        "chart": org_chart(await _everyone(api, session)),
        "done": request.query_params.get("deactivated"),
    }
    return await page(request, "admin/people.html", context, session=session, title="People")


async def _person(api: Api, session: Session, person_id: str) -> dict[str, Any]:
    try:
        person: dict[str, Any] = await api.get("people", f"/v1/people/{person_id}", session)
    except ApiProblem as problem:
        if problem.status in (404, 422):
            raise PageNotFound() from problem
        raise
    return person


@router.get("/admin/people/{person_id}/deactivate")
async def confirm_deactivation(
    request: Request, person_id: str, session: HRSession, api: ApiDep
) -> Response:
    person = await _person(api, session, person_id)
    return await page(
        request,
        "admin/deactivate.html",
        {"person": person},
        session=session,
        title=f"Deactivate {person.get('display_name') or person['user_name']}",
    )


@router.post("/admin/people/{person_id}/deactivate")
async def deactivate(person_id: str, session: HRSession, api: ApiDep) -> Response:
    await api.post("people", f"/v1/people/{person_id}/deactivate", session)
    return RedirectResponse(f"/admin/people?deactivated={person_id}", status_code=303)


# ----------------------------------------------------------------------------- imports


async def _imports_page(
    request: Request,
    session: Session,
    api: Api | None = None,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    diff: dict[str, Any] | None = None,
    guard: str = "",
    applied: bool = False,
    status_code: int = 200,
) -> Response:
    names: dict[str, str] = {}
    if diff is not None and api is not None:
        # manager changes name people, not ids: today's directory plus the export's newcomers
        for person in [*await _everyone(api, session), *diff.get("created", [])]:
            names[person["id"]] = person.get("display_name") or person["user_name"]
    context = {
        "values": values,
        "errors": errors,
        "diff": diff,
        "guard": guard,
        "applied": applied,
        "names": names,
    }
    return await page(
        request,
        "admin/imports.html",
        context,
        session=session,
        status_code=status_code,
        title="Import people",
    )


@router.get("/admin/imports")
async def imports_page(request: Request, session: HRSession) -> Response:
    return await _imports_page(request, session, values={"deactivate_missing": True}, errors={})


async def _import(
    api: Api, session: Session, values: dict[str, Any], *, dry_run: bool, force: bool
) -> dict[str, Any]:
    body = {
        "format": "csv",
        "csv": values["csv"],
        "deactivate_missing": values["deactivate_missing"],
    }
    # flags as params: httpx replaces a query written into the path when params are given
    flags = {"dry_run": str(dry_run).lower(), "force": str(force).lower()}
    result: dict[str, Any] = await api.request(
        "POST", "people", "/v1/imports", session, json=body, params=flags
    )
    return result


def _import_errors(problem: ApiProblem) -> dict[str, str]:
    if problem.status >= 500:
        raise problem
    return {"csv": problem.detail, **{k: v for k, v in problem.fields.items() if k}}


@router.post("/admin/imports")
async def dry_run(request: Request, session: HRSession, api: ApiDep) -> Response:
    """Read the uploaded export and show what it would change (nothing is written)."""
    form = await request.form()
    upload = form.get("file")
    values: dict[str, Any] = {"deactivate_missing": form.get("deactivate_missing") == "on"}
    text = ""
    if isinstance(upload, UploadFile):
        raw = await upload.read(MAX_CSV_BYTES + 1)
        if len(raw) > MAX_CSV_BYTES:
            return await _imports_page(
                request,
                session,
                values=values,
                errors={"file": "the file is over 2 MB"},
                status_code=413,
            )
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            errors = {"file": "the file is not UTF-8 text (export it as CSV, UTF-8)"}
            return await _imports_page(
                request, session, values=values, errors=errors, status_code=422
            )
    if not text.strip():
        errors = {"file": "choose a CSV file exported from your HR system"}
        return await _imports_page(request, session, values=values, errors=errors, status_code=422)
    values["csv"] = text
    try:
        diff = await _import(api, session, values, dry_run=True, force=False)
        return await _imports_page(request, session, api, values=values, errors={}, diff=diff)
    except ApiProblem as problem:
        if problem.status != 409:
            errors = _import_errors(problem)
            return await _imports_page(
                request, session, values=values, errors=errors, status_code=422
            )
        # the mass-deactivation guard: show the whole diff, and ask for an explicit force
        diff = await _import(api, session, values, dry_run=True, force=True)
        return await _imports_page(
            request, session, api, values=values, errors={}, diff=diff, guard=problem.detail
        )


@router.post("/admin/imports/confirm")
async def confirm_import(request: Request, session: HRSession, api: ApiDep) -> Response:
    form = await request.form()
    values: dict[str, Any] = {
        "csv": str(form.get("csv") or ""),
        "deactivate_missing": form.get("deactivate_missing") == "true",
    }
    force = form.get("force") == "on"
    try:
        result = await _import(api, session, values, dry_run=False, force=force)
    except ApiProblem as problem:
        if problem.status != 409:
            errors = _import_errors(problem)
            return await _imports_page(
                request, session, values=values, errors=errors, status_code=422
            )
        diff = await _import(api, session, values, dry_run=True, force=True)
        errors = {"force": "tick this box to apply an import that deactivates this many people"}
        return await _imports_page(
            request,
            session,
            api,
            values=values,
            errors=errors,
            diff=diff,
            guard=problem.detail,
            status_code=409,
        )
    return await _imports_page(
        request, session, api, values=values, errors={}, diff=result, applied=True
    )
