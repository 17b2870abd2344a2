"""What the schema fuzzer found (tests/fuzz), each pinned on the real servers.

Each answer is one the OpenAPI documents: its status is listed for the route, and a 422 that a
schema-valid request gets names its documented rule (`rule-not-met`), never a bare
`invalid-input` the schema could have prevented.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.feedback.config import FeedbackSettings
from services.feedback.main import create_app as feedback_app
from services.goals.config import GoalsSettings
from services.goals.main import create_app as goals_app
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app as kpi_ingest_app
from services.people.config import PeopleSettings
from services.people.main import create_app as people_app
from shared.config import CommonSettings
from tests.support import bearer, isolated_settings, running, unique

pytestmark = pytest.mark.integration

TENANT = "acme"
HR = bearer(TENANT, "hr-1", "hr_admin", "admin", "employee")


@asynccontextmanager
async def service(
    settings_class: type[CommonSettings], create_app: Callable[[Any], FastAPI]
) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(isolated_settings(settings_class))) as client:
        yield client


def documented(client: httpx.AsyncClient, method: str, route: str, status: int) -> bool:
    app: FastAPI = client._transport.app  # type: ignore[attr-defined]
    return str(status) in app.openapi()["paths"][route][method]["responses"]


async def test_a_built_in_template_id_is_a_conflict() -> None:
    async with service(GoalsSettings, goals_app) as client:
        taken = await client.post(
            "/v1/goal-templates",
            headers=HR,
            json={"id": "learn-ux-design-principles", "title": "Mine", "horizon": "short_term"},
        )
        assert taken.status_code == 409, taken.text
        assert documented(client, "post", "/v1/goal-templates", 409)


async def test_goal_dates_out_of_order_name_their_rule() -> None:
    async with service(GoalsSettings, goals_app) as client:
        body = {"title": "Ship", "horizon": "short_term"}
        backwards = {**body, "start_date": "2026-03-01", "due_date": "2026-01-01"}
        refused = await client.post("/v1/goals", headers=HR, json=backwards)
        assert refused.status_code == 422
        assert refused.json()["type"] == "/problems/rule-not-met"
        assert (await client.get("/v1/goals", headers=HR)).json()["items"] == []


async def test_a_cursor_the_api_did_not_return_has_its_own_problem_type() -> None:
    async with service(GoalsSettings, goals_app) as client:
        listed = await client.get("/v1/goals?cursor=service+starting", headers=HR)
        assert listed.status_code == 422
        assert listed.json()["type"] == "/problems/invalid-cursor"


async def test_unknown_or_inactive_people_are_404_and_409_not_422() -> None:
    async with service(PeopleSettings, people_app) as client:
        rows = [
            {"employee_id": "E1", "email": "a@acme.com", "first_name": "A"},
            {"employee_id": "E2", "email": "b@acme.com", "first_name": "B"},
        ]
        imported = await client.post("/v1/imports", headers=HR, json={"rows": rows})
        assert imported.status_code == 200, imported.text
        listed = (await client.get("/v1/people", headers=HR)).json()["items"]
        ids = {p["email"]: p["id"] for p in listed}
        a, b = ids["a@acme.com"], ids["b@acme.com"]

        nobody = unique("nobody-")
        unknown = await client.post(
            "/v1/mentorships", headers=HR, json={"mentor_id": nobody, "mentee_id": a}
        )
        assert unknown.status_code == 404, unknown.text
        manager = await client.put(
            f"/v1/people/{a}/manager", headers=HR, json={"manager_id": nobody}
        )
        assert manager.status_code == 404, manager.text

        gone = await client.post("/v1/imports?force=true", headers=HR, json={"rows": rows[:1]})
        assert gone.status_code == 200, gone.text
        inactive = await client.post(
            "/v1/mentorships", headers=HR, json={"mentor_id": b, "mentee_id": a}
        )
        assert inactive.status_code == 409, inactive.text
        assert (await client.get(f"/v1/people/{a}/mentors", headers=HR)).json()["items"] == []


async def test_a_405_lists_every_method_of_the_path() -> None:
    async with service(GoalsSettings, goals_app) as client:
        response = await client.request("OPTIONS", "/v1/goal-templates", headers=HR)
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST"


async def test_a_body_that_is_not_utf8_is_a_documented_400() -> None:
    async with service(GoalsSettings, goals_app) as client:
        response = await client.put(
            "/v1/goal-settings",
            headers={**HR, "Content-Type": "application/json"},
            content=b"O\x1c<\xe9Z\xd0",
        )
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert documented(client, "put", "/v1/goal-settings", 400)


async def test_feedback_periods_and_kpi_ranges_name_their_rule() -> None:
    async with service(FeedbackSettings, feedback_app) as client:
        long = await client.get("/v1/people/p1/feedback-summary?from=2000-01-01", headers=HR)
        assert long.status_code == 422
        assert long.json()["type"] == "/problems/rule-not-met"
    async with service(KpiIngestSettings, kpi_ingest_app) as client:
        created = await client.post(
            "/v1/metrics",
            headers=HR,
            json={"key": "signups", "name": "Signups", "unit": "n", "kind": "counter"},
        )
        assert created.status_code == 201, created.text
        at = "2026-12-02T15:19:20Z"
        empty = await client.get(f"/v1/metrics/signups/series?from={at}&to={at}", headers=HR)
        assert empty.status_code == 422
        assert empty.json()["type"] == "/problems/rule-not-met"
