"""Every service's OpenAPI holds under generated input: schemathesis, all phases, all checks.

No server errors, only documented status codes and content types, responses that match their
schemas, schema-valid requests accepted. A new service is one line in ``SERVICES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from services.feedback.config import FeedbackSettings
from services.feedback.main import create_app as feedback_app
from services.goals.config import GoalsSettings
from services.goals.main import create_app as goals_app
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app as kpi_ingest_app
from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app as notifications_app
from services.people.config import PeopleSettings
from services.people.main import create_app as people_app
from services.reviews.config import ReviewsSettings
from services.reviews.main import create_app as reviews_app
from shared.config import CommonSettings
from tests.fuzz.harness import admin_token, fuzz, started
from tests.support import isolated_settings

pytestmark = pytest.mark.integration


def scim_token(client: Any, admin: dict[str, str]) -> dict[str, str]:
    """The SCIM routes take a tenant's SCIM token, not a JWT; API key introspection the
    services' shared secret."""
    response = client.post("/v1/scim-tokens", json={"name": "fuzz"}, headers=admin)
    assert response.status_code == 201, response.text
    secret = client.app.state.settings.api_keys_shared_secret()
    return {"ScimToken": response.json()["token"], "ServiceSecret": secret}


def nothing(client: Any, admin: dict[str, str]) -> dict[str, str]:
    return {}


# settings of a fuzzed service beside its isolated ones: the inbox stream ends soon, so each
# request to it is answered and checked rather than cut by the client's timeout
OVERRIDES: dict[str, dict[str, Any]] = {"notifications": {"sse_stream_lifetime_s": 0.3}}

# name: (settings class, app factory, what it needs before fuzzing)
SERVICES: dict[str, tuple[type[CommonSettings], Callable[[Any], FastAPI], Any]] = {
    "people": (PeopleSettings, people_app, scim_token),
    "goals": (GoalsSettings, goals_app, nothing),
    "feedback": (FeedbackSettings, feedback_app, nothing),
    "kpi_ingest": (KpiIngestSettings, kpi_ingest_app, nothing),
    "notifications": (NotificationsSettings, notifications_app, nothing),
    "reviews": (ReviewsSettings, reviews_app, nothing),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", list(SERVICES))
def test_openapi_holds_under_generated_input(service: str) -> None:
    settings_class, create_app, prepare = SERVICES[service]
    settings = isolated_settings(settings_class, **OVERRIDES.get(service, {}))
    app = create_app(settings)
    _, token = admin_token(settings)
    with started(app) as client:
        credentials = {"HTTPBearer": token, **prepare(client, {"Authorization": f"Bearer {token}"})}
        report = fuzz(service, app, credentials)
    print(report.summary())
    assert report.cases > 0, report.summary()
    assert not report.findings, report.summary()
    assert not report.errors, report.summary()
