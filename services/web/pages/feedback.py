"""``/feedback``: requests asked of me, requests I made and their state, praise; one request's
page with the answer form (1-5 per skill, comments) and, for its owner, the answers."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web.client import Api, ApiProblem
from services.web.people_view import names, skill_name
from services.web.security import CurrentSession
from services.web.sessions import Session
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

# what each point of the 1-5 scale means on the answer form
SCALE = {
    1: "Needs a lot of growth",
    2: "Developing",
    3: "Solid",
    4: "Strong",
    5: "Role model",
}
RELATIONSHIPS = {
    "mentor": "Mentor",
    "peer": "Peer",
    "manager": "Manager",
    "report": "Report",
    "cross_functional": "Cross-functional partner",
}
STATUS_LABELS = {
    "open": "Waiting for answers",
    "answered": "Answered",
    "declined": "Declined",
    "completed": "Completed",
    "expired": "Expired",
}


def _ordered(requests: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    # what still waits comes first, then the newest
    by_date = sorted(requests, key=lambda r: r["created_at"], reverse=True)
    return sorted(by_date, key=lambda r: r.get(key) != "open")


@router.get("/feedback")
async def feedback_home(request: Request, session: CurrentSession, api: ApiDep) -> Response:
    """Requests to me, requests I made (with their progress), and praise I received."""
    to_me, mine, received = await asyncio.gather(
        api.get("feedback", "/v1/feedback-requests", session, assigned_to="me", limit=200),
        api.get("feedback", "/v1/feedback-requests", session, limit=200),
        api.get("feedback", f"/v1/people/{session.person_id}/feedback", session, limit=200),
    )
    praise = [item for item in received["items"] if item["kind"] == "praise"]
    people = await names(
        api,
        session,
        [r["requester_id"] for r in to_me["items"]]
        + [r["subject_id"] for r in to_me["items"] + mine["items"]]
        + [p.get("from_id") for p in praise],
    )
    context = {
        "to_me": _ordered(to_me["items"], "my_status"),
        "mine": _ordered(mine["items"], "status"),
        "praise": praise,
        "people": people,
        "status_labels": STATUS_LABELS,
        "skill_name": skill_name,
    }
    return await page(request, "feedback/feedback.html", context, session=session, title="Feedback")


async def _goal_title(api: Api, session: Session, goal_id: str | None) -> str | None:
    if not goal_id:
        return None
    try:
        goal = await api.get("goals", f"/v1/goals/{goal_id}", session)
    except ApiProblem:
        return None  # a goal the reader may not see is simply not named
    return str(goal["title"])


async def _request_page(
    request: Request,
    session: Session,
    api: Api,
    feedback_request: dict[str, Any],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    responses = feedback_request.get("responses") or []
    reviewers = feedback_request.get("reviewers") or []
    people, goal_title = await asyncio.gather(
        names(
            api,
            session,
            [feedback_request["subject_id"], feedback_request["requester_id"]]
            + [r["person_id"] for r in reviewers]
            + [r.get("reviewer_id") for r in responses],
        ),
        _goal_title(api, session, feedback_request.get("goal_id")),
    )
    subject = people.get(feedback_request["subject_id"], "")
    about_me = feedback_request["subject_id"] == session.person_id
    context = {
        "req": feedback_request,
        "people": people,
        "goal_title": goal_title,
        "subject_name": "you" if about_me else subject,
        "values": values or {},
        "errors": errors or {},
        "scale": SCALE,
        "relationships": RELATIONSHIPS,
        "status_labels": STATUS_LABELS,
        "skill_name": skill_name,
        "answering": feedback_request.get("my_status") == "open",
    }
    title = "Feedback about you" if about_me else f"Feedback about {subject}"
    return await page(
        request,
        "feedback/request.html",
        context,
        session=session,
        status_code=status_code,
        title=title,
    )


@router.get("/feedback/requests/{request_id}")
async def feedback_request_page(
    request: Request, request_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    """A request as I may see it: the answer form if it waits for me, the answers if it is mine.

    Someone else's request answers 404 from the feedback API, which becomes the 404 page.
    """
    found = await api.get("feedback", f"/v1/feedback-requests/{request_id}", session)
    return await _request_page(request, session, api, found)


def answer_body(values: dict[str, str], skills: list[str], questions: list[str]) -> dict[str, Any]:
    ratings: dict[str, int] = {}
    for skill in skills:
        raw = values.get(f"rating.{skill}", "")
        if raw.isdigit():
            ratings[skill] = int(raw)
    body: dict[str, Any] = {"ratings": ratings}
    if comments := values.get("comments", "").strip():
        body["comments"] = comments
    answers = [values.get(f"answer.{i}", "").strip() for i in range(len(questions))]
    if any(answers):
        body["answers"] = answers
    return body


def answer_errors(
    values: dict[str, str], skills: list[str], problem: ApiProblem | None
) -> dict[str, str]:
    """Every skill needs a rating (said here, before the API, so all missing ones show at once);
    the API's refusals are placed next to their input."""
    errors = {
        f"rating.{skill}": f"Choose a rating from 1 to 5 for {skill_name(skill).lower()}."
        for skill in skills
        if not values.get(f"rating.{skill}", "").isdigit()
    }
    if problem is not None:
        for name, message in problem.fields.items():
            name = name.replace("ratings.", "rating.").replace("answers.", "answer.")
            errors[name] = message
        if not problem.fields:
            errors[""] = problem.detail
    return errors


@router.post("/feedback/requests/{request_id}/answer")
async def answer(
    request: Request, request_id: str, session: CurrentSession, api: ApiDep
) -> Response:
    """Submit my answer; a refused one comes back with what I typed and the reason."""
    path = f"/v1/feedback-requests/{request_id}"
    found = await api.get("feedback", path, session)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    errors = answer_errors(values, found["skills"], None)
    if not errors:
        body = answer_body(values, found["skills"], found["questions"])
        try:
            await api.post("feedback", f"{path}/responses", session, body)
        except ApiProblem as problem:
            if problem.status >= 500:
                raise
            errors = answer_errors(values, found["skills"], problem)
        else:
            return RedirectResponse(f"/feedback/requests/{request_id}", status_code=303)
    return await _request_page(
        request, session, api, found, values=values, errors=errors, status_code=422
    )


@router.post("/feedback/requests/{request_id}/decline")
async def decline(request_id: str, session: CurrentSession, api: ApiDep) -> Response:
    """Decline a request asked of me."""
    await api.post("feedback", f"/v1/feedback-requests/{request_id}/decline", session)
    return RedirectResponse("/feedback", status_code=303)
