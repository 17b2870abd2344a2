"""The feedback, ask, skills, team and profile pages against stubbed service APIs: what they
show, what they send, and a refused form that keeps what was typed."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.integration.web_social.stubs import (
    SIX,
    Browser,
    feedback_request,
    person,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

# ---------------------------------------------------------------------------------- feedback


async def test_the_feedback_page_lists_what_waits_for_me_first_then_mine_and_praise(
    web: Browser,
) -> None:
    asked = [
        feedback_request(id="r1", my_status="answered", created_at="2026-03-12T08:00:00Z"),
        feedback_request(id="r2", my_status="open", created_at="2026-03-01T08:00:00Z"),
    ]
    mine = [
        feedback_request(
            id="r3",
            subject_id="ada",
            requester_id="ada",
            skills=["ux_design", "leadership"],
            progress={"asked": 3, "answered": 1, "declined": 0, "open": 2},
        )
    ]

    def requests(request: httpx.Request) -> tuple[int, Any]:
        return 200, {"items": asked if request.url.params.get("assigned_to") else mine}

    web.apis.on("GET", "/v1/feedback-requests", requests)
    praise = {
        "kind": "praise",
        "id": "p1",
        "on": "2026-03-02",
        "ratings": {},
        "comments": "Great demo",
        "anonymous": False,
        "from_id": "bob",
    }
    web.apis.on("GET", "/v1/people/ada/feedback", (200, {"items": [praise]}))
    web.apis.on("GET", "/v1/people/bob", (200, person("bob", "Bob Builder")))
    html = (await web.client.get("/feedback")).text
    assert html.index('href="/feedback/requests/r2"') < html.index('href="/feedback/requests/r1"')
    assert "Waiting for you" in html
    assert "You answered" in html
    assert "About you: UX design, Leadership &amp; project management</a>" in html
    assert "1 of 3 answered" in html
    assert "Great demo" in html
    assert "Bob Builder, 2026-03-02" in html


async def test_the_answer_form_asks_each_requested_skill_and_says_who_will_read_it(
    web: Browser,
) -> None:
    web.apis.on(
        "GET",
        "/v1/feedback-requests/r1",
        (200, feedback_request(my_status="open", my_relationship="mentor")),
    )
    web.apis.on("GET", "/v1/people/bob", (200, person("bob", "Bob Builder")))
    html = (await web.client.get("/feedback/requests/r1")).text
    assert html.count('type="radio"') == 6 * 5
    assert "<legend>UX design</legend>" in html
    assert "This request is not anonymous" in html
    assert "Bob Builder" in html

    web.apis.on(
        "GET",
        "/v1/feedback-requests/r1",
        (200, feedback_request(anonymous=True, min_responses=3, my_status="open")),
    )
    html = (await web.client.get("/feedback/requests/r1")).text
    assert "This request is anonymous" in html
    assert "once 3 people have answered" in html


async def test_a_missing_rating_is_refused_before_the_api_and_keeps_the_answer(
    web: Browser,
) -> None:
    web.apis.on("GET", "/v1/feedback-requests/r1", (200, feedback_request(my_status="open")))
    web.apis.on("GET", "/v1/people/bob", (200, person("bob", "Bob Builder")))
    form = {f"rating.{s}": "4" for s in SIX[:-1]} | {"comments": "Sharp & kind", **web.csrf}
    answer = await web.client.post("/feedback/requests/r1/answer", data=form)
    assert answer.status_code == 422
    assert (
        'id="rating-ux_design-error">Choose a rating from 1 to 5 for ux design.</p>' in answer.text
    )
    assert ">Sharp &amp; kind</textarea>" in answer.text
    assert answer.text.count("checked") == 5
    assert web.apis.sent("POST", "/v1/feedback-requests/r1/responses") == []

    web.apis.on(
        "POST", "/v1/feedback-requests/r1/responses", (201, feedback_request(my_status="answered"))
    )
    sent = await web.client.post(
        "/feedback/requests/r1/answer", data=form | {"rating.ux_design": "2"}
    )
    assert (sent.status_code, sent.headers["location"]) == (303, "/feedback/requests/r1")
    [body] = web.apis.sent("POST", "/v1/feedback-requests/r1/responses")
    assert body == {
        "ratings": dict.fromkeys(SIX[:-1], 4) | {"ux_design": 2},
        "comments": "Sharp & kind",
    }


async def test_someone_elses_request_is_the_not_found_page(web: Browser) -> None:
    answer = await web.client.get("/feedback/requests/not-mine")  # the stub answers 404
    assert answer.status_code == 404
    assert "<h1>Not found</h1>" in answer.text


async def test_asking_sends_the_chosen_people_with_their_relationship(web: Browser) -> None:
    web.apis.on("GET", "/v1/people/ada/mentors", (200, {"items": [person("ines", "Ines Okafor")]}))
    web.apis.on("GET", "/v1/people/ada/chain", (200, {"items": [person("mo", "Morgan Lee")]}))
    web.apis.on("GET", "/v1/people/ada/reports", (200, {"items": []}))
    web.apis.on(
        "GET",
        "/v1/people",
        (
            200,
            {
                "items": [
                    person("ada", "Ada Lovelace"),
                    person("ines", "Ines Okafor"),
                    person("tom", "Tom Peer"),
                ]
            },
        ),
    )
    web.apis.on(
        "GET", "/v1/goals", (200, {"items": [{"id": "g1", "title": "Launch", "status": "active"}]})
    )
    html = (await web.client.get("/feedback/ask?goal_id=g1")).text
    assert 'value="ines|mentor"' in html
    assert 'value="mo|manager"' in html
    assert 'value="tom|peer"' in html
    assert 'value="ada|' not in html
    assert html.count('name="skill"') == 6
    assert html.count('name="skill" value') == 6
    assert '<option value="g1" selected>Launch</option>' in html

    web.apis.on("POST", "/v1/feedback-requests", (201, feedback_request(id="r9")))
    form = [
        ("reviewer", "ines|mentor"),
        ("reviewer", "tom|peer"),
        ("skill", "communication"),
        ("skill", "leadership"),
        ("subject_id", "ada"),
        ("goal_id", "g1"),
        ("due_date", "2099-01-31"),
        ("question", "What should I try next?"),
        ("csrf_token", web.session.csrf_token),
    ]
    created = await web.client.post(
        "/feedback/ask",
        content=httpx.QueryParams(form).__str__(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert (created.status_code, created.headers["location"]) == (303, "/feedback/requests/r9")
    [body] = web.apis.sent("POST", "/v1/feedback-requests")
    assert body == {
        "subject_id": "ada",
        "goal_id": "g1",
        "due_date": "2099-01-31",
        "anonymous": False,
        "reviewers": [
            {"person_id": "ines", "relationship": "mentor"},
            {"person_id": "tom", "relationship": "peer"},
        ],
        "skills": ["communication", "leadership"],
        "questions": ["What should I try next?"],
    }


async def test_asking_nobody_is_refused_and_keeps_the_choices(web: Browser) -> None:
    for path in ("mentors", "chain", "reports"):
        web.apis.on("GET", f"/v1/people/ada/{path}", (200, {"items": []}))
    web.apis.on("GET", "/v1/people", (200, {"items": [person("tom", "Tom Peer")]}))
    web.apis.on("GET", "/v1/goals", (200, {"items": []}))
    form = [
        ("skill", "ux_design"),
        ("subject_id", "ada"),
        ("due_date", "2099-01-31"),
        ("anonymous", "on"),
        ("csrf_token", web.session.csrf_token),
    ]
    answer = await web.client.post(
        "/feedback/ask",
        content=str(httpx.QueryParams(form)),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 422
    assert 'id="reviewers-error">Choose at least one person to ask.</p>' in answer.text
    assert 'id="skill-ux_design" name="skill" value="ux_design" checked' in answer.text
    assert 'id="skill-communication" name="skill" value="communication">' in answer.text
    assert (
        'id="anonymous" name="anonymous" value="on" aria-describedby="anonymous-hint" checked'
        in answer.text
    )
    assert web.apis.sent("POST", "/v1/feedback-requests") == []


# ---------------------------------------------------------------------------------- skills, team


def summary(skills: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "person_id": "ada",
        "period": {"from": "2026-01-01", "to": "2026-03-31"},
        "previous_period": {"from": "2025-10-03", "to": "2025-12-31"},
        "skills": skills,
    }


async def test_skills_show_each_skill_trend_and_feed_the_radar(web: Browser) -> None:
    web.apis.on(
        "GET",
        "/v1/people/ada/feedback-summary",
        (
            200,
            summary(
                [
                    {
                        "skill": "communication",
                        "mean": 4.5,
                        "count": 2,
                        "previous_mean": 3.0,
                        "previous_count": 1,
                        "trend": 1.5,
                        "direction": "up",
                    }
                ]
            ),
        ),
    )
    web.apis.on(
        "GET",
        "/v1/people/ada/feedback",
        (
            200,
            {
                "items": [
                    {
                        "kind": "response",
                        "id": "x",
                        "on": "2026-03-10",
                        "ratings": {"communication": 5},
                        "comments": "Clear & calm",
                        "anonymous": False,
                        "from_id": "ines",
                        "relationship": "mentor",
                        "request_id": "r1",
                    }
                ]
            },
        ),
    )
    web.apis.on("GET", "/v1/people/ines", (200, person("ines", "Ines Okafor")))
    html = (await web.client.get("/skills")).text
    row = html[html.index('id="skill-communication"') :]
    assert '<span class="skill-mean">4.5</span>' in row[:400]
    assert "Improving" in row[:800]
    assert "(+1.5)" in row[:800]
    assert html.count("No ratings yet") == 5  # the guide's other skills are listed too
    data = json.loads(
        re.search(
            r'<script type="application/json" class="skills-data">(.*?)</script>', html, re.S
        )[1]
    )  # type: ignore[index]
    assert data["latest"][0] == 4.5
    assert data["previous"][0] == 3.0
    assert len(data["skills"]) == 6
    assert "Clear &amp; calm" in html
    assert "Ines Okafor (mentor)" in html
    # two summary calls give four consecutive quarters
    assert len([c for c in web.apis.calls if c.url.path.endswith("/feedback-summary")]) == 2


def goal(goal_id: str, title: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": goal_id,
        "title": title,
        "status": "active",
        "horizon": "short_term",
        "progress": 0.5,
        "at_risk": False,
        "review_pending": None,
        "due_date": None,
        **fields,
    }


async def test_the_team_page_puts_goals_at_risk_then_due_for_review_first(web: Browser) -> None:
    web.apis.on(
        "GET",
        "/v1/people/ada/reports",
        (200, {"items": [person("bob", "Bob Builder"), person("cy", "Cy Calm")]}),
    )

    def goals_of(request: httpx.Request) -> tuple[int, Any]:
        if request.url.params["owner_id"] == "bob":
            return 200, {
                "items": [
                    goal("g1", "Fine"),
                    goal("g2", "Review me", review_pending="cadence"),
                    goal("g3", "Behind", at_risk=True),
                    goal("g4", "Done", status="achieved"),
                ]
            }
        return 200, {"items": [goal("g5", "Calm goal")]}

    web.apis.on("GET", "/v1/goals", goals_of)
    html = (await web.client.get("/team")).text
    assert html.index("Bob Builder") < html.index("Cy Calm")  # whose goals need attention
    assert html.index(">Behind<") < html.index(">Review me<") < html.index(">Fine<")
    assert ">Done<" not in html
    assert 'href="/feedback/ask?subject_id=bob"' in html


async def test_a_profile_shows_visible_goals_and_says_when_skills_are_not_shared(
    web: Browser,
) -> None:
    web.apis.on(
        "GET", "/v1/people/bob", (200, person("bob", "Bob Builder", manager_id="ada", title="PM"))
    )
    web.apis.on("GET", "/v1/goals", (200, {"items": [goal("g1", "Company goal")]}))
    web.apis.on("GET", "/v1/people/bob/chain", (200, {"items": [person("ada", "Ada Lovelace")]}))
    web.apis.on("GET", "/v1/people/bob/feedback-summary", (403, {"status": 403, "detail": "no"}))
    html = (await web.client.get("/people/bob")).text
    assert "<h1>Bob Builder</h1>" in html
    assert ">Company goal<" in html
    assert 'href="/feedback/ask?subject_id=bob"' in html  # Ada manages Bob
    assert 'href="/feedback/ask?subject_id=bob&amp;goal_id=g1"' in html  # on that goal
    assert "not with you" in html
