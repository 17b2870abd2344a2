"""The error responses every route documents, added by shared.openapi to any service's app."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from services.feedback.main import create_app as feedback_app
from services.goals.main import create_app as goals_app
from services.kpi_ingest.main import create_app as kpi_ingest_app
from services.notifications.main import create_app as notifications_app
from services.people.main import create_app as people_app
from shared.app import create_service_app
from shared.auth import CurrentPrincipal
from shared.config import CommonSettings
from shared.openapi import ErrorFormat
from shared.problems import PROBLEM_JSON

APPS = [people_app, goals_app, feedback_app, kpi_ingest_app, notifications_app]


class Thing(BaseModel):
    name: str


def _app(**kwargs: Any) -> FastAPI:
    router = APIRouter(prefix="/v1")

    @router.get("/things/{thing_id}")
    async def read(thing_id: str, principal: CurrentPrincipal) -> Thing:
        return Thing(name=thing_id)

    @router.post("/things", status_code=201, responses={429: {"description": "slow down"}})
    async def add(body: Thing, principal: CurrentPrincipal) -> Thing:
        return body

    @router.get("/public")
    async def public() -> Thing:
        return Thing(name="x")

    other = APIRouter(prefix="/other")

    @other.get("/{item}")
    async def other_item(item: str) -> Thing:
        return Thing(name=item)

    return create_service_app(
        name="t", settings=CommonSettings(), routers=[router, other], **kwargs
    )


def _statuses(spec: dict[str, Any], path: str, method: str) -> dict[str, list[str]]:
    responses = spec["paths"][path][method]["responses"]
    return {code: list(r.get("content", {})) for code, r in responses.items()}


def test_each_route_documents_the_problems_it_can_answer() -> None:
    spec = _app().openapi()
    problem = [PROBLEM_JSON]
    assert _statuses(spec, "/v1/things/{thing_id}", "get") == {
        "200": ["application/json"],
        **dict.fromkeys(("401", "403", "404", "422", "503"), problem),
    }
    added = _statuses(spec, "/v1/things", "post")
    assert set(added) == {"201", "400", "401", "403", "404", "409", "413", "422", "429", "503"}
    assert all(added[code] == problem for code in added if code != "201")
    assert added["429"] == problem
    assert spec["paths"]["/v1/things"]["post"]["responses"]["429"]["description"] == "slow down"
    # no credential, no path parameter, no body: only what any route can answer
    assert set(_statuses(spec, "/v1/public", "get")) == {"200", "422", "503"}


def test_the_problem_schema_replaces_fastapis_validation_error() -> None:
    spec = _app().openapi()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]
    content = spec["paths"]["/v1/things"]["post"]["responses"]["422"]["content"]
    assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "Retry-After" in spec["paths"]["/v1/things"]["post"]["responses"]["503"]["headers"]


def test_a_prefix_with_its_own_error_format_is_documented_in_it() -> None:
    own = ErrorFormat("application/x-err+json", "Err", {"type": "object"}, invalid_status=400)
    spec = _app(error_formats={"/other": own}).openapi()
    assert _statuses(spec, "/other/{item}", "get") == {
        "200": ["application/json"],
        **{code: ["application/x-err+json"] for code in ("400", "404", "503")},
    }
    assert spec["components"]["schemas"]["Err"] == {"type": "object"}


@pytest.mark.parametrize("create", APPS, ids=lambda create: create.__module__.split(".")[1])
def test_every_error_response_of_every_service_has_a_schema(create: Any) -> None:
    spec = create().openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    assert response.get("content"), (method, path, code)
                    for media in response["content"].values():
                        assert "$ref" in media["schema"], (method, path, code)
