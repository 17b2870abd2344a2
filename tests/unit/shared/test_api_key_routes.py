"""Which routes of each service take API keys: exactly those of docs/people.md#api-keys.

Read off the built apps (no server): a route takes keys only when its router declares a resource,
so a router that starts declaring one, or a new route on a declared router, shows up here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator

import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from shared.auth import API_KEY_SCOPES, required_scope, route_resource

MAINS = {
    "people": "services.people.main",
    "goals": "services.goals.main",
    "feedback": "services.feedback.main",
    "kpi_ingest": "services.kpi_ingest.main",
    "notifications": "services.notifications.main",
    "reviews": "services.reviews.main",
    "web": "services.web.main",
}
# what a key with some scope may reach (its role and object checks still apply after)
REACHABLE = {
    "people": {
        ("GET", "/v1/people"),
        ("GET", "/v1/people/{person_id}"),
        ("GET", "/v1/people/{person_id}/reports"),
        ("GET", "/v1/people/{person_id}/chain"),
        ("GET", "/v1/people/{person_id}/mentors"),
        ("GET", "/v1/people/{person_id}/mentees"),
        ("GET", "/v1/scim-tokens"),  # admins only: a key gets 403 from the role check
        ("GET", "/v1/audit"),
        ("GET", "/v1/audit.csv"),
        ("GET", "/v1/audit-settings"),  # HR only, likewise
    },
    "goals": {
        ("GET", "/v1/goal-templates"),
        ("GET", "/v1/goal-templates/{template_id}"),
        ("GET", "/v1/goal-settings"),
        ("GET", "/v1/goals"),
        ("GET", "/v1/goals/{goal_id}"),
        ("GET", "/v1/goals/{goal_id}/timeline"),
        ("GET", "/v1/goals/{goal_id}/tree"),
        ("GET", "/v1/people/{person_id}/goals/summary"),
    },
    "kpi_ingest": {
        ("POST", "/v1/sources"),
        ("GET", "/v1/sources"),
        ("GET", "/v1/sources/{source_id}"),
        ("POST", "/v1/sources/{source_id}/rotate-secret"),
        ("DELETE", "/v1/sources/{source_id}"),
        ("POST", "/v1/metrics"),
        ("GET", "/v1/metrics"),
        ("GET", "/v1/metrics/{key}"),
        ("GET", "/v1/metrics/{key}/series"),
        ("GET", "/v1/metrics/{key}/latest"),
    },
}


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, inside included routers too (FastAPI keeps them in their own router,
    whose route is the one a request's scope names)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


@pytest.mark.parametrize("service", list(MAINS))
def test_only_the_documented_routes_take_api_keys(service: str) -> None:
    app = importlib.import_module(MAINS[service]).create_app()
    reachable = set()
    routes = list(api_routes(app.routes))
    assert len(routes) > 3
    for route in routes:
        resource = route_resource(route)
        if resource is None:
            continue
        for method in route.methods:
            if required_scope(resource, method) in API_KEY_SCOPES:
                reachable.add((method, route.path))
    assert reachable == REACHABLE.get(service, set())
