"""The HR reports on the real stack: people, goals and feedback exchange events over Kafka and
the people service's read model follows; each report then equals the same numbers recomputed
from the owning services' own APIs (people, goals, feedback), another tenant's data is never
counted, and an erased person leaves the reports.

The org chart of tenant A: lead (Product) above m1 (Product) above a1 and a2 (Product); lead
above s1 (Sales) above s2 (Sales). Goals: a1's at risk (most of its period gone, little
progress) and one achieved; a2's on track with a check-in; s2's active without a check-in; s1's
a draft; m1's abandoned. Feedback: a named request about a1 (two answers with ratings, one
decline) and an anonymous one about s2 (three answers, released at the minimum).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from services.feedback.config import FeedbackSettings
from services.feedback.main import create_app as feedback_app
from services.goals.config import GoalsSettings
from services.goals.main import create_app as goals_app
from services.people.config import PeopleSettings
from services.people.main import create_app as people_app
from shared.events import topics
from shared.messaging import ensure_topics
from tests.support import bearer, eventually, isolated_settings, running, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
STALE_AFTER = timedelta(days=30)
TODAY = date.today()


@dataclass
class Org:
    clients: dict[str, httpx.AsyncClient]
    tenant: str
    other: str
    ids: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    other_ids: dict[str, str] = field(default_factory=dict)

    def hr(self, tenant: str | None = None) -> dict[str, str]:
        return bearer(tenant or self.tenant, "hr-1", "hr_admin")

    def as_(self, who: str) -> dict[str, str]:
        return bearer(self.tenant, self.ids[who])


def _ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def _people(
    client: httpx.AsyncClient, tenant: str, chart: list[tuple[str, str, str | None]]
) -> dict[str, str]:
    """People over SCIM (name, department, manager name), managers first."""
    token = _ok(
        await client.post(
            "/v1/scim-tokens", json={"name": "idp"}, headers=bearer(tenant, "it", "admin")
        )
    )
    scim = {"Authorization": f"Bearer {token['token']}"}
    ids: dict[str, str] = {}
    for name, department, manager in chart:
        extension: dict[str, Any] = {"department": department}
        if manager:
            extension["manager"] = {"value": ids[manager]}
        user = _ok(
            await client.post(
                "/scim/v2/Users",
                json={
                    "schemas": [USER, ENTERPRISE],
                    "userName": f"{name}@{tenant}.example",
                    "displayName": f"{name} {tenant}",
                    "active": True,
                    ENTERPRISE: extension,
                },
                headers=scim,
            )
        )
        ids[name] = user["id"]
    return ids


async def _goal(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    status: str = "active",
    started_days_ago: int = 1,
    due_in_days: int = 60,
) -> dict[str, Any]:
    body = {
        "title": f"goal {unique()}",
        "horizon": "short_term",
        "status": status,
        "start_date": str(TODAY - timedelta(days=started_days_ago)),
        "due_date": str(TODAY + timedelta(days=due_in_days)),
        "key_results": [{"id": "kr", "title": "done", "start": 0, "target": 10}],
    }
    return _ok(await client.post("/v1/goals", json=body, headers=headers))


async def _check_in(
    client: httpx.AsyncClient, headers: dict[str, str], goal_id: str, value: float
) -> None:
    _ok(
        await client.post(
            f"/v1/goals/{goal_id}/check-ins", json={"key_results": {"kr": value}}, headers=headers
        )
    )


async def _request(
    org: Org, subject: str, reviewers: list[str], skills: list[str], *, anonymous: bool = False
) -> str:
    body: dict[str, Any] = {
        "subject_id": org.ids[subject],
        "reviewers": [{"person_id": org.ids[r], "relationship": "peer"} for r in reviewers],
        "skills": skills,
        "due_date": str(TODAY + timedelta(days=7)),
        "anonymous": anonymous,
    }
    if anonymous:
        body["min_responses"] = 3

    async def requested() -> dict[str, Any] | None:
        # the people reach feedback's projection over Kafka first
        r = await org.clients["feedback"].post(
            "/v1/feedback-requests", json=body, headers=org.as_(subject)
        )
        return dict(r.json()) if r.status_code == 201 else None

    request = await eventually(requested, timeout=60, interval=0.5)
    org.requests.append(request["id"])
    return str(request["id"])


async def _answer(org: Org, request_id: str, who: str, ratings: dict[str, int]) -> None:
    _ok(
        await org.clients["feedback"].post(
            f"/v1/feedback-requests/{request_id}/responses",
            json={"ratings": ratings},
            headers=org.as_(who),
        )
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def org() -> AsyncIterator[Org]:
    run_id = unique()
    settings = {
        "people": isolated_settings(PeopleSettings, run_id),
        "goals": isolated_settings(GoalsSettings, run_id, scheduler_enabled=False),
        "feedback": isolated_settings(FeedbackSettings, run_id),
    }
    await ensure_topics(settings["goals"], topics.ALL, with_dlq=topics.ALL)
    apps = {
        "people": people_app(settings["people"]),
        "goals": goals_app(settings["goals"]),
        "feedback": feedback_app(settings["feedback"]),
    }
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(running(app)) for name, app in apps.items()
        }
        o = Org(clients, tenant=unique("ra-"), other=unique("rb-"))
        o.ids = await _people(
            clients["people"],
            o.tenant,
            [
                ("lead", "Product", None),
                ("m1", "Product", "lead"),
                ("a1", "Product", "m1"),
                ("a2", "product", "m1"),
                ("s1", "Sales", "lead"),
                ("s2", "Sales", "s1"),
            ],
        )
        goals = clients["goals"]
        risky = await _goal(goals, o.as_("a1"), started_days_ago=50, due_in_days=10)
        await _check_in(goals, o.as_("a1"), risky["id"], 1)  # 10 % of a period 83 % gone
        achieved = await _goal(goals, o.as_("a1"))
        await _check_in(goals, o.as_("a1"), achieved["id"], 10)
        steady = await _goal(goals, o.as_("a2"))
        await _check_in(goals, o.as_("a2"), steady["id"], 1)
        await _goal(goals, o.as_("s2"))
        await _goal(goals, o.as_("s1"), status="draft")
        dropped = await _goal(goals, o.as_("m1"))
        _ok(
            await goals.post(
                f"/v1/goals/{dropped['id']}/status",
                json={"status": "abandoned"},
                headers=o.as_("m1"),
            ),
            200,
        )
        named = await _request(o, "a1", ["a2", "s1", "m1"], ["communication", "ux_design"])
        await _answer(o, named, "a2", {"communication": 4, "ux_design": 3})
        await _answer(o, named, "m1", {"communication": 2, "ux_design": 2})
        _ok(
            await clients["feedback"].post(
                f"/v1/feedback-requests/{named}/decline", headers=o.as_("s1")
            ),
            200,
        )
        anonymous = await _request(o, "s2", ["a1", "a2", "m1"], ["communication"], anonymous=True)
        for who, value in (("a1", 5), ("a2", 4), ("m1", 3)):
            await _answer(o, anonymous, who, {"communication": value})

        # tenant B: a person with a goal, a check-in and feedback answered, none of it A's
        o.other_ids = await _people(
            clients["people"], o.other, [("boss", "Product", None), ("b1", "Product", "boss")]
        )
        b1 = bearer(o.other, o.other_ids["b1"])
        other_goal = await _goal(goals, b1)
        await _check_in(goals, b1, other_goal["id"], 2)
        yield o


# ---------------------------------------------------------------- recomputed from the APIs


async def _everyone(org: Org) -> list[dict[str, Any]]:
    found = _ok(
        await org.clients["people"].get(
            "/v1/people", params={"active": "true", "limit": 200}, headers=org.hr()
        ),
        200,
    )
    assert found["next_cursor"] is None
    return list(found["items"])


async def _goals_of(org: Org, person_id: str) -> list[dict[str, Any]]:
    found = _ok(
        await org.clients["goals"].get(
            "/v1/goals", params={"owner_id": person_id, "limit": 100}, headers=org.hr()
        ),
        200,
    )
    return list(found["items"])


def _team(person: dict[str, Any]) -> str:
    return person.get("manager_id") or ""


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def recomputed_attainment(org: Org, start: datetime, now: datetime) -> dict[str, Counter]:
    """Goal attainment by team from the people and goals APIs, as the report defines it."""
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for person in await _everyone(org):
        team = _team(person)
        rows[team]["people"] += 1
        for goal in await _goals_of(org, person["id"]):
            if goal["status"] == "achieved":
                where = "achieved" if _at(goal["updated_at"]) >= start else None
            elif goal["status"] != "active":
                where = None
            elif goal["at_risk"]:
                where = "at_risk"
            elif _at(goal["last_activity_at"] or goal["created_at"]) < now - STALE_AFTER:
                where = "no_recent_update"
            else:
                where = "on_track"
            if where:
                rows[team][where] += 1
                rows[team]["goals"] += 1
    return rows


async def recomputed_participation(org: Org, start: datetime) -> dict[str, Counter]:
    """Of the people with an active goal, who checked in within the period (goal timelines)."""
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for person in await _everyone(org):
        goals = await _goals_of(org, person["id"])
        if not any(g["status"] == "active" for g in goals):
            continue
        rows[_team(person)]["people_with_active_goals"] += 1
        checked = False
        for goal in goals:
            timeline = _ok(
                await org.clients["goals"].get(
                    f"/v1/goals/{goal['id']}/timeline", params={"limit": 200}, headers=org.hr()
                ),
                200,
            )
            checked = checked or any(
                e["kind"] == "check_in" and _at(e["at"]) >= start for e in timeline["items"]
            )
        rows[_team(person)]["checked_in"] += int(checked)
    return rows


async def recomputed_feedback(org: Org) -> tuple[dict[str, Counter], dict[str, list[int]]]:
    """Per department of the subject: requests, reviewers asked, answered, declined; and the
    ratings of the readable answers per skill (from the feedback API, as HR sees them)."""
    departments = {p["id"]: (p.get("department") or "").casefold() for p in await _everyone(org)}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    ratings: dict[str, list[int]] = defaultdict(list)
    for request_id in org.requests:
        request = _ok(
            await org.clients["feedback"].get(
                f"/v1/feedback-requests/{request_id}", headers=org.hr()
            ),
            200,
        )
        row = counts[departments[request["subject_id"]]]
        row["requests"] += 1
        row["reviewers_asked"] += request["progress"]["asked"]
        row["answered"] += request["progress"]["answered"]
        row["declined"] += request["progress"]["declined"]
        for response in request["responses"]:
            for skill, value in response["ratings"].items():
                ratings[f"{departments[request['subject_id']]}/{skill}"].append(value)
    return counts, ratings


async def report(org: Org, name: str, tenant: str | None = None, **params: str) -> Any:
    response = await org.clients["people"].get(
        f"/v1/reports/{name}", params=params, headers=org.hr(tenant)
    )
    return _ok(response, 200)


def _pick(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {n: row[n] for n in names}


# ---------------------------------------------------------------- the tests


ATTAINMENT = ("people", "goals", "achieved", "on_track", "at_risk", "no_recent_update")


async def test_goal_attainment_by_team_equals_the_goals_and_people_apis(org: Org) -> None:
    now = datetime.now(UTC)
    start = now - timedelta(days=30)

    async def matches() -> bool:
        got = await report(org, "goal-attainment", group_by="team")
        expected = await recomputed_attainment(org, start, datetime.now(UTC))
        mine = {r["group"]: _pick(r, ATTAINMENT) for r in got["rows"]}
        theirs = {k: {n: v[n] for n in ATTAINMENT} for k, v in expected.items()}
        return mine == theirs

    await eventually(matches, timeout=60, interval=1)
    got = await report(org, "goal-attainment", group_by="team")
    rows = {r["group"]: r for r in got["rows"]}
    # the story holds: the states are all there, not just equal zeros
    assert _pick(rows[org.ids["m1"]], ATTAINMENT) == {
        "people": 2,
        "goals": 3,
        "achieved": 1,
        "on_track": 1,
        "at_risk": 1,
        "no_recent_update": 0,
    }
    assert rows[org.ids["s1"]]["on_track"] == 1  # s2's active goal, just activated
    assert rows[org.ids["m1"]]["label"] == f"m1 {org.tenant}"
    assert _pick(got["total"], ATTAINMENT) == {
        "people": 6,
        "goals": 4,
        "achieved": 1,
        "on_track": 2,
        "at_risk": 1,
        "no_recent_update": 0,
    }
    # a population: everyone below m1 (a1 and a2), grouped by department
    below = await report(org, "goal-attainment", manager=org.ids["m1"])
    assert [(r["label"], r["goals"]) for r in below["rows"]] == [("Product", 3)]
    # "manager" grouping: lead's group holds everyone below them
    managers = await report(org, "goal-attainment", group_by="manager")
    lead = next(r for r in managers["rows"] if r["group"] == org.ids["lead"])
    assert (lead["people"], lead["goals"]) == (5, 4)
    # a period that ended before today counts no achievement
    old = await report(
        org,
        "goal-attainment",
        **{"from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"},
    )
    assert old["total"]["achieved"] == 0


async def test_check_in_participation_equals_the_goal_timelines(org: Org) -> None:
    start = datetime.now(UTC) - timedelta(days=30)

    async def matches() -> bool:
        got = await report(org, "check-in-participation", group_by="team")
        expected = await recomputed_participation(org, start)
        names = ("people_with_active_goals", "checked_in")
        mine = {r["group"]: _pick(r, names) for r in got["rows"] if r["people_with_active_goals"]}
        theirs = {k: {n: v[n] for n in names} for k, v in expected.items()}
        return mine == theirs

    await eventually(matches, timeout=60, interval=1)
    total = (await report(org, "check-in-participation"))["total"]
    # a1 (at-risk goal) and a2 checked in; s2 has an active goal and did not
    assert _pick(total, ("people_with_active_goals", "checked_in")) == {
        "people_with_active_goals": 3,
        "checked_in": 2,
    }
    assert total["share"] == pytest.approx(2 / 3, abs=1e-4)


async def test_feedback_responses_and_skill_averages_equal_the_feedback_api(org: Org) -> None:
    names = ("requests", "reviewers_asked", "answered", "declined")
    counts, ratings = await recomputed_feedback(org)

    async def matches() -> bool:
        got = await report(org, "feedback-responses")
        mine = {r["group"]: _pick(r, names) for r in got["rows"] if r["requests"]}
        return mine == {k: {n: v[n] for n in names} for k, v in counts.items()}

    await eventually(matches, timeout=60, interval=1)
    got = await report(org, "feedback-responses")
    assert _pick(got["total"], names) == {
        "requests": 2,
        "reviewers_asked": 6,
        "answered": 5,
        "declined": 1,
    }
    assert 0 <= got["total"]["median_hours_to_answer"] <= 1  # answered within the test
    assert got["total"]["answer_rate"] == pytest.approx(5 / 6, abs=1e-4)

    async def skills() -> Any:
        found = await report(org, "skill-averages")
        return found if len(found["rows"]) == 3 else None

    found = await eventually(skills, timeout=60, interval=1)
    cells = {f"{r['group']}/{r['skill']}": r for r in found["rows"]}
    assert set(cells) == set(ratings)
    for cell, values in ratings.items():
        assert cells[cell]["answers"] == len(values)
        if len(values) >= 3:
            assert cells[cell]["average"] == pytest.approx(statistics.fmean(values), abs=0.01)
        else:  # a1's named request: two answers, under the anonymity minimum
            assert cells[cell]["average"] is None
            assert cells[cell]["suppressed"] is True
    # Sales: the three released anonymous answers about s2
    assert cells["sales/communication"]["average"] == 4.0
    # the communication total would give Product's two answers away: suppressed too
    totals = {r["skill"]: r for r in found["total"]}
    assert totals["communication"]["suppressed"] is True
    assert not any("reviewer" in key for row in found["rows"] for key in row)


async def test_another_tenants_data_is_never_counted(org: Org) -> None:
    async def b_counted() -> bool:
        got = await report(org, "check-in-participation", tenant=org.other)
        return bool(got["total"]["checked_in"] == 1)

    await eventually(b_counted, timeout=60, interval=1)
    b = await report(org, "goal-attainment", tenant=org.other)
    assert _pick(b["total"], ("people", "goals", "on_track")) == {
        "people": 2,
        "goals": 1,
        "on_track": 1,
    }
    assert (await report(org, "feedback-responses", tenant=org.other))["total"]["requests"] == 0
    assert (await report(org, "skill-averages", tenant=org.other))["rows"] == []
    # A's totals hold A's people only; B's filters name A's ids and find nobody
    a = await report(org, "goal-attainment")
    assert a["total"]["people"] == 6
    cross = await report(org, "goal-attainment", tenant=org.other, manager=org.ids["lead"])
    assert cross["rows"] == []
    assert cross["total"]["people"] == 0


async def test_roles_csv_and_bad_input(org: Org) -> None:
    people = org.clients["people"]
    employee = await people.get("/v1/reports/goal-attainment", headers=org.as_("a1"))
    assert employee.status_code == 403
    assert (await people.get("/v1/reports/skill-averages.csv")).status_code == 401
    csv_answer = await people.get(
        "/v1/reports/goal-attainment.csv", params={"group_by": "team"}, headers=org.hr()
    )
    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-type"].startswith("text/csv")
    lines = csv_answer.text.splitlines()
    assert lines[0] == "group,label,people,goals,achieved,on_track,at_risk,no_recent_update"
    assert lines[-1].startswith("*,(total),6,")
    backwards = await people.get(
        "/v1/reports/goal-attainment",
        params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=org.hr(),
    )
    assert backwards.status_code == 422
    assert backwards.headers["content-type"].startswith("application/problem+json")
    for bad in ({"from": "1700000000"}, {"group_by": "planet"}, {"to": "0001-01-01T00:00:00Z"}):
        answer = await people.get(
            "/v1/reports/check-in-participation", params=bad, headers=org.hr()
        )
        assert answer.status_code == 422, (bad, answer.text)


async def test_an_erased_person_leaves_the_reports(org: Org) -> None:
    """Last in the module: s2 is erased; their goal, ratings and requests about them go."""
    await eventually(
        lambda: _sales_answers(org, expected=3), timeout=60, interval=1
    )  # the read model holds s2's facts first
    erased = await org.clients["people"].post(
        f"/v1/people/{org.ids['s2']}/erasure", headers=bearer(org.tenant, "admin-1", "admin")
    )
    assert erased.status_code in (200, 202), erased.text
    store = org.clients["people"]._transport.app.state.reports.facts  # type: ignore[attr-defined]
    for collection in (store.goals, store.check_ins, store.requests, store.answers, store.ratings):
        for name in ("owner_id", "subject_id"):
            found = await collection.count_documents({"tenant": org.tenant, name: org.ids["s2"]})
            assert found == 0, (collection.name, name)
    assert await _sales_answers(org, expected=0)
    total = (await report(org, "goal-attainment"))["total"]
    assert (total["people"], total["goals"]) == (5, 3)


async def _sales_answers(org: Org, *, expected: int) -> bool:
    found = await report(org, "skill-averages")
    sales = [r for r in found["rows"] if r["group"] == "sales"]
    return sum(r["answers"] for r in sales) == expected
