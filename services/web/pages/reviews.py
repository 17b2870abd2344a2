"""Reviews: mine to write and to read, and one review's form beside its packet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web.client import Api, ApiProblem
from services.web.goal_forms import form_values
from services.web.security import CurrentSession, PageNotFound
from services.web.sessions import Session
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

GUIDE_SKILLS = [
    "communication",
    "data_analysis",
    "leadership",
    "customer_centric",
    "industry_knowledge",
    "ux_design",
]


async def tenant_skills(api: Api, session: Session) -> list[str]:
    """The skills of the tenant's ladders, in ladder order (the guide's six by default)."""
    try:
        ladders = await api.get("reviews", "/v1/ladders", session)
    except ApiProblem:
        return GUIDE_SKILLS
    skills = [s for ladder in ladders.get("items", []) for s in ladder["skills"]]
    return list(dict.fromkeys(skills)) or GUIDE_SKILLS


async def people_names(api: Api, session: Session) -> dict[str, str]:
    """Person id → display name, for the pages' labels (ids when the people service is away)."""
    try:
        found = await api.get("people", "/v1/people", session, limit=200)
    except ApiProblem:
        return {}
    return {p["id"]: p.get("display_name") or p["user_name"] for p in found.get("items", [])}


def _api_errors(problem: ApiProblem) -> dict[str, str]:
    if problem.status >= 500 or problem.status in (403, 404):
        raise problem
    return dict(problem.fields) or {"": problem.detail}


async def review_or_404(api: Api, session: Session, review_id: str) -> dict[str, Any]:
    try:
        review: dict[str, Any] = await api.get("reviews", f"/v1/reviews/{review_id}", session)
    except ApiProblem as problem:
        if problem.status in (404, 422):
            raise PageNotFound() from problem
        raise
    return review


@router.get("/reviews")
async def reviews_list(request: Request, session: CurrentSession, api: ApiDep) -> Response:
    found = await api.get("reviews", "/v1/reviews", session)
    items = list(found.get("items", []))
    mine = [r for r in items if r["person_id"] == session.person_id]
    context = {
        "self_to_write": [r for r in mine if not r["steps"]["self_review"]],
        "to_acknowledge": [
            r for r in mine if r["steps"]["released"] and not r["steps"]["acknowledged"]
        ],
        "mine_other": [
            r
            for r in mine
            if r["steps"]["self_review"]
            and not (r["steps"]["released"] and not r["steps"]["acknowledged"])
        ],
        "as_manager": [r for r in items if r["person_id"] != session.person_id],
        "names": await people_names(api, session),
    }
    return await page(request, "reviews/list.html", context, session=session, title="Reviews")


@router.get("/reviews/{review_id}")
async def review_page(
    request: Request, review_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    review = await review_or_404(api, session, review_id)
    return await _review_page(request, session, api, review)


async def _review_page(
    request: Request,
    session: Session,
    api: Api,
    review: dict[str, Any],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    form: str = "",
    status_code: int = 200,
) -> Response:
    try:
        packet: dict[str, Any] | None = await api.get(
            "reviews", f"/v1/reviews/{review['id']}/packet", session
        )
    except ApiProblem as problem:
        if problem.status < 500:
            raise
        packet = None  # the form stays usable while the packet cannot be assembled
    names = await people_names(api, session)
    is_person = review["person_id"] == session.person_id
    context = {
        "review": review,
        "packet": packet,
        "names": names,
        "skills": await tenant_skills(api, session),
        "is_person": is_person,
        "is_writer": not is_person,
        "peer_choices": [
            (pid, name)
            for pid, name in sorted(names.items(), key=lambda item: item[1])
            if pid not in (review["person_id"], review.get("manager_id"))
        ],
        "values": values or {},
        "errors": errors or {},
        "form": form,
    }
    who = names.get(review["person_id"], "") if not is_person else "My"
    title = f"{who} review · {review['cycle_name']}" if not is_person else review["cycle_name"]
    return await page(
        request,
        "reviews/review.html",
        context,
        session=session,
        status_code=status_code,
        title=title,
    )


def _ratings(values: dict[str, str], skills: list[str], errors: dict[str, str]) -> dict[str, int]:
    ratings: dict[str, int] = {}
    for skill in skills:
        raw = values.get(f"ratings.{skill}", "")
        if raw.isdigit():
            ratings[skill] = int(raw)
        else:
            errors[f"ratings.{skill}"] = "choose a rating from 1 to 5"
    return ratings


async def _submit(
    request: Request,
    session: Session,
    api: Api,
    review_id: str,
    form: str,
    build: Any,
    send: Any,
) -> Response:
    """Shared shape of the review's forms: parse, ask the API, re-render with errors on refusal."""
    review = await review_or_404(api, session, review_id)
    raw = await request.form()
    values = form_values(raw)
    errors: dict[str, str] = {}
    body = build(values, raw, await tenant_skills(api, session), errors)
    if not errors:
        try:
            await send(body)
            return RedirectResponse(f"/reviews/{review_id}", status_code=303)
        except ApiProblem as problem:
            errors = _api_errors(problem)
    return await _review_page(
        request, session, api, review, values=values, errors=errors, form=form, status_code=422
    )


@router.post("/reviews/{review_id}/self-review")
async def submit_self(
    request: Request, review_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    def build(values: dict[str, str], raw: Any, skills: list[str], errors: dict[str, str]) -> Any:
        body: dict[str, Any] = {"ratings": _ratings(values, skills, errors)}
        body["goal_comments"] = {
            k.removeprefix("goal_comments."): v.strip()
            for k, v in values.items()
            if k.startswith("goal_comments.") and v.strip()
        }
        if values.get("comments", "").strip():
            body["comments"] = values["comments"].strip()
        return body

    async def send(body: Any) -> None:
        await api.put("reviews", f"/v1/reviews/{review_id}/self-review", session, body)

    return await _submit(request, session, api, review_id, "self", build, send)


@router.post("/reviews/{review_id}/manager-review")
async def submit_manager(
    request: Request, review_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    def build(values: dict[str, str], raw: Any, skills: list[str], errors: dict[str, str]) -> Any:
        body: dict[str, Any] = {"ratings": _ratings(values, skills, errors)}
        overall = values.get("overall_rating", "").strip()
        if overall.isdigit():
            body["overall_rating"] = int(overall)
        else:
            errors["overall_rating"] = "choose an overall rating"
        body["summary"] = values.get("summary", "").strip()
        if not body["summary"]:
            errors["summary"] = "write a summary"
        return body

    async def send(body: Any) -> None:
        await api.put("reviews", f"/v1/reviews/{review_id}/manager-review", session, body)

    return await _submit(request, session, api, review_id, "manager", build, send)


@router.post("/reviews/{review_id}/peers")
async def nominate_peers(
    request: Request, review_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    def build(values: dict[str, str], raw: Any, skills: list[str], errors: dict[str, str]) -> Any:
        peers = [str(p) for p in raw.getlist("peer_ids") if str(p)]
        if not peers:
            errors["peer_ids"] = "choose at least one colleague"
        return {"peer_ids": peers}

    async def send(body: Any) -> None:
        await api.put("reviews", f"/v1/reviews/{review_id}/peers", session, body)

    return await _submit(request, session, api, review_id, "peers", build, send)


@router.post("/reviews/{review_id}/peers/approve")
async def approve_peers(
    request: Request, review_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    def build(values: dict[str, str], raw: Any, skills: list[str], errors: dict[str, str]) -> Any:
        return {"approved_peer_ids": [str(p) for p in raw.getlist("approved_peer_ids")]}

    async def send(body: Any) -> None:
        await api.post("reviews", f"/v1/reviews/{review_id}/peers/approve", session, body)

    return await _submit(request, session, api, review_id, "approve", build, send)


@router.post("/reviews/{review_id}/acknowledge")
async def acknowledge(
    request: Request, review_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    def build(values: dict[str, str], raw: Any, skills: list[str], errors: dict[str, str]) -> Any:
        return None

    async def send(body: Any) -> None:
        await api.post("reviews", f"/v1/reviews/{review_id}/acknowledge", session)

    return await _submit(request, session, api, review_id, "acknowledge", build, send)
