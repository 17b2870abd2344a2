"""Tenant isolation on every read path of every service, through HTTP on the real servers.

The six services run together (one run id: they share topics, as in production). Tenant A gets
one object of each kind through the public APIs: people and a group over SCIM, a mentorship, a
SCIM token, goals with a check-in (so a timeline) and a child (so a tree), a template and
settings, a feedback request and praise, a KPI source, metric and points (series and latest
values), a webhook subscription with its deliveries, an inbox item and preferences.

Then tenant B's admin, whose subject id is the SAME as tenant A's people (only the tenant
separates them), requests every GET route of every service. Item routes answer 404; lists and
settings answer without a byte of tenant A: neither an id nor a marker string that only tenant
A's objects carry. The routes come from each app's OpenAPI, so a new GET route without an entry
in ``ROUTES`` fails ``test_every_read_route_is_in_the_table``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI

from services.feedback.config import FeedbackSettings
from services.feedback.main import create_app as feedback_app
from services.goals.config import GoalsSettings
from services.goals.main import create_app as goals_app
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app as kpi_app
from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app as notifications_app
from services.people.config import PeopleSettings
from services.people.main import create_app as people_app
from services.reviews.config import ReviewsSettings
from services.reviews.main import create_app as reviews_app
from shared.events import topics
from shared.messaging import ensure_topics
from shared.webhooks import signed_headers
from tests.integration.notifications.receivers import SmtpSink, WebhookReceiver, free_port
from tests.support import bearer, eventually, isolated_settings, running, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

_NOW = datetime.now(UTC).replace(microsecond=0)
# the series window around tenant A's point (an hour ago)
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
SPAN = f"from={_NOW - timedelta(days=1):{_STAMP}}&to={_NOW + timedelta(days=1):{_STAMP}}"

# What tenant B requests, per service: (method, OpenAPI path) -> the concrete URL (filled in from
# tenant A's objects) and what B must get. "missing": 404. "nothing": 200, no trace of tenant A.
ROUTES: dict[str, dict[tuple[str, str], tuple[str, str]]] = {
    "people": {
        ("GET", "/scim/v2/ServiceProviderConfig"): ("/scim/v2/ServiceProviderConfig", "nothing"),
        ("GET", "/scim/v2/Schemas"): ("/scim/v2/Schemas", "nothing"),
        ("GET", "/scim/v2/Schemas/{schema_id}"): (f"/scim/v2/Schemas/{USER}", "nothing"),
        ("GET", "/scim/v2/ResourceTypes"): ("/scim/v2/ResourceTypes", "nothing"),
        ("GET", "/scim/v2/ResourceTypes/{type_id}"): ("/scim/v2/ResourceTypes/User", "nothing"),
        ("GET", "/scim/v2/Users"): ("/scim/v2/Users", "nothing"),
        ("GET", "/scim/v2/Users/{resource_id}"): ("/scim/v2/Users/{owner}", "missing"),
        ("GET", "/scim/v2/Groups"): ("/scim/v2/Groups", "nothing"),
        ("GET", "/scim/v2/Groups/{resource_id}"): ("/scim/v2/Groups/{group}", "missing"),
        ("GET", "/v1/people"): ("/v1/people", "nothing"),
        ("GET", "/v1/people/{person_id}"): ("/v1/people/{owner}", "missing"),
        ("GET", "/v1/people/{person_id}/reports"): ("/v1/people/{manager}/reports", "missing"),
        ("GET", "/v1/people/{person_id}/chain"): ("/v1/people/{owner}/chain", "missing"),
        ("GET", "/v1/people/{person_id}/mentors"): ("/v1/people/{owner}/mentors", "missing"),
        ("GET", "/v1/people/{person_id}/mentees"): ("/v1/people/{manager}/mentees", "missing"),
        ("GET", "/v1/scim-tokens"): ("/v1/scim-tokens", "nothing"),
        ("GET", "/v1/api-keys"): ("/v1/api-keys", "nothing"),
        # tenant A's trail holds its SCIM token, KPI source and webhook subscription records
        ("GET", "/v1/audit"): ("/v1/audit", "nothing"),
        ("GET", "/v1/audit.csv"): ("/v1/audit.csv", "nothing"),
        ("GET", "/v1/audit-settings"): ("/v1/audit-settings", "nothing"),
        ("GET", "/v1/people/{person_id}/erasure"): ("/v1/people/{owner}/erasure", "missing"),
        # tenant A's reports count its people, goals and feedback; B's hold none of them
        **{
            ("GET", f"/v1/reports/{name}{ext}"): (f"/v1/reports/{name}{ext}", "nothing")
            for name in (
                "goal-attainment",
                "check-in-participation",
                "feedback-responses",
                "skill-averages",
            )
            for ext in ("", ".csv")
        },
        ("GET", "/v1/people/{person_id}/exports/{export_id}"): (
            "/v1/people/{owner}/exports/{request}",
            "missing",
        ),
    },
    "goals": {
        ("GET", "/v1/goal-templates"): ("/v1/goal-templates", "nothing"),
        ("GET", "/v1/goal-templates/{template_id}"): (
            "/v1/goal-templates/{template}",
            "missing",
        ),
        ("GET", "/v1/goal-settings"): ("/v1/goal-settings", "nothing"),
        ("GET", "/v1/goals"): ("/v1/goals", "nothing"),
        ("GET", "/v1/goals/{goal_id}"): ("/v1/goals/{goal}", "missing"),
        ("GET", "/v1/goals/{goal_id}/timeline"): ("/v1/goals/{goal}/timeline", "missing"),
        ("GET", "/v1/goals/{goal_id}/tree"): ("/v1/goals/{goal}/tree", "missing"),
        ("GET", "/v1/people/{person_id}/goals/summary"): (
            "/v1/people/{owner}/goals/summary",
            "nothing",
        ),
        # B's admin has the owner's id as its own subject: its own (empty) data
        ("GET", "/v1/people/{person_id}/data"): ("/v1/people/{owner}/data", "nothing"),
    },
    "feedback": {
        ("GET", "/v1/feedback-requests"): ("/v1/feedback-requests", "nothing"),
        ("GET", "/v1/feedback-requests/{request_id}"): (
            "/v1/feedback-requests/{request}",
            "missing",
        ),
        ("GET", "/v1/people/{person_id}/feedback"): ("/v1/people/{owner}/feedback", "nothing"),
        ("GET", "/v1/people/{person_id}/feedback-summary"): (
            "/v1/people/{owner}/feedback-summary",
            "nothing",
        ),
        ("GET", "/v1/people/me/feedback-sharing"): ("/v1/people/me/feedback-sharing", "nothing"),
        ("GET", "/v1/people/{person_id}/data"): ("/v1/people/{owner}/data", "nothing"),
    },
    "kpi_ingest": {
        ("GET", "/v1/sources"): ("/v1/sources", "nothing"),
        ("GET", "/v1/sources/{source_id}"): ("/v1/sources/{source}", "missing"),
        ("GET", "/v1/metrics"): ("/v1/metrics", "nothing"),
        ("GET", "/v1/metrics/{key}"): ("/v1/metrics/{metric}", "missing"),
        ("GET", "/v1/metrics/{key}/series"): ("/v1/metrics/{metric}/series?" + SPAN, "missing"),
        ("GET", "/v1/metrics/{key}/latest"): ("/v1/metrics/{metric}/latest", "missing"),
        ("GET", "/v1/retention"): ("/v1/retention", "nothing"),
    },
    "notifications": {
        ("GET", "/v1/inbox"): ("/v1/inbox", "nothing"),
        ("GET", "/v1/inbox/count"): ("/v1/inbox/count", "nothing"),
        # an endless Server-Sent Events response: test_the_inbox_stream_of_tenant_b_...
        ("GET", "/v1/inbox/stream"): ("/v1/inbox/stream", "stream"),
        ("GET", "/v1/preferences"): ("/v1/preferences", "nothing"),
        ("GET", "/v1/preferences/defaults"): ("/v1/preferences/defaults", "nothing"),
        ("GET", "/v1/webhook-subscriptions"): ("/v1/webhook-subscriptions", "nothing"),
        ("GET", "/v1/webhook-subscriptions/{subscription_id}"): (
            "/v1/webhook-subscriptions/{subscription}",
            "missing",
        ),
        ("DELETE", "/v1/webhook-subscriptions/{subscription_id}"): (
            "/v1/webhook-subscriptions/{subscription}",
            "missing",
        ),
        ("GET", "/v1/notifications/{notification_id}/why"): (
            "/v1/notifications/{notification}/why",
            "missing",
        ),
        ("GET", "/v1/deliveries"): ("/v1/deliveries?event_id={event}", "nothing"),
        ("GET", "/v1/retention"): ("/v1/retention", "nothing"),
        ("GET", "/v1/people/{person_id}/data"): ("/v1/people/{owner}/data", "nothing"),
    },
    "reviews": {
        ("GET", "/v1/review-cycles"): ("/v1/review-cycles", "nothing"),
        ("GET", "/v1/review-cycles/{cycle_id}"): ("/v1/review-cycles/{cycle}", "missing"),
        ("GET", "/v1/review-cycles/{cycle_id}/calibration"): (
            "/v1/review-cycles/{cycle}/calibration",
            "missing",
        ),
        ("GET", "/v1/review-cycles/{cycle_id}/export.csv"): (
            "/v1/review-cycles/{cycle}/export.csv",
            "missing",
        ),
        ("GET", "/v1/reviews"): ("/v1/reviews", "nothing"),
        ("GET", "/v1/reviews/{review_id}"): ("/v1/reviews/{review}", "missing"),
        ("GET", "/v1/reviews/{review_id}/packet"): ("/v1/reviews/{review}/packet", "missing"),
        ("GET", "/v1/ladders"): ("/v1/ladders", "nothing"),
        ("GET", "/v1/ladders/{ladder_id}"): ("/v1/ladders/{ladder}", "missing"),
        # B's admin has the owner's id as its own subject: its own (empty) career record
        ("GET", "/v1/people/{person_id}/career"): ("/v1/people/{owner}/career", "nothing"),
        ("GET", "/v1/people/{person_id}/gaps"): ("/v1/people/{owner}/gaps", "nothing"),
        ("GET", "/v1/people/{person_id}/data"): ("/v1/people/{owner}/data", "nothing"),
    },
}

APPS = {
    "people": people_app,
    "goals": goals_app,
    "feedback": feedback_app,
    "kpi_ingest": kpi_app,
    "notifications": notifications_app,
    "reviews": reviews_app,
}


@dataclass
class World:
    clients: dict[str, httpx.AsyncClient]
    apps: dict[str, FastAPI]
    tenant_a: str
    tenant_b: str
    ids: dict[str, str] = field(default_factory=dict)
    # strings only tenant A's objects carry (ids, names, notes)
    markers: set[str] = field(default_factory=set)
    b_scim: dict[str, str] = field(default_factory=dict)

    def a(self, sub: str, *roles: str) -> dict[str, str]:
        return bearer(self.tenant_a, sub, *roles)

    def b_admin(self, person: str = "owner") -> dict[str, str]:
        # the same subject as one of tenant A's people: only the tenant tells them apart
        return bearer(self.tenant_b, self.ids[person], "admin", "hr_admin")


def _ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def _seed_people(w: World, mark: str) -> None:
    people = w.clients["people"]
    token = _ok(
        await people.post(
            "/v1/scim-tokens", json={"name": f"idp {mark}"}, headers=w.a("it", "admin")
        )
    )
    w.markers.add(token["token_id"])
    key = _ok(
        await people.post(
            "/v1/api-keys",
            json={"name": f"integration {mark}", "scopes": ["people:read"]},
            headers=w.a("it", "admin"),
        )
    )
    w.markers.add(key["key_id"])
    scim = {"Authorization": f"Bearer {token['token']}"}
    for role in ("manager", "owner", "reviewer"):
        user = _ok(
            await people.post(
                "/scim/v2/Users",
                json={
                    "schemas": [USER],
                    "userName": f"{role}-{mark}@tenant-a.com",
                    "displayName": f"{role} {mark}",
                    "emails": [{"value": f"{role}-{mark}@tenant-a.com", "primary": True}],
                    "active": True,
                },
                headers=scim,
            )
        )
        w.ids[role] = user["id"]
    _ok(
        await people.put(
            f"/v1/people/{w.ids['owner']}/manager",
            json={"manager_id": w.ids["manager"]},
            headers=w.a("hr", "hr_admin"),
        ),
        200,
    )
    group = _ok(
        await people.post(
            "/scim/v2/Groups",
            json={
                "schemas": [GROUP],
                "displayName": f"group {mark}",
                "members": [{"value": w.ids["owner"]}],
            },
            headers=scim,
        )
    )
    w.ids["group"] = group["id"]
    mentorship = _ok(
        await people.post(
            "/v1/mentorships",
            json={"mentor_id": w.ids["manager"], "mentee_id": w.ids["owner"]},
            headers=w.a("hr", "hr_admin"),
        )
    )
    w.markers.add(mentorship["id"])


async def _seed_goals(w: World, mark: str) -> None:
    goals = w.clients["goals"]
    owner = w.a(w.ids["owner"])
    template = _ok(
        await goals.post(
            "/v1/goal-templates",
            json={
                "id": unique("tpl-"),
                "title": f"template {mark}",
                "horizon": "short_term",
                "skills": ["industry_knowledge"],
                "suggested_key_results": [{"title": "Shipped", "target": 1}],
            },
            headers=w.a("hr", "hr_admin"),
        )
    )
    w.ids["template"] = template["id"]
    _ok(
        await goals.put(
            "/v1/goal-settings", json={"at_risk_margin": 0.37}, headers=w.a("hr", "hr_admin")
        ),
        200,
    )
    parent = _ok(
        await goals.post(
            "/v1/goals",
            json={
                "title": f"goal {mark}",
                "horizon": "short_term",
                "key_results": [{"id": "talks", "title": f"talks {mark}", "target": 4}],
            },
            headers=owner,
        )
    )
    w.ids["goal"] = parent["id"]
    child = _ok(
        await goals.post(
            "/v1/goals",
            json={"title": f"child {mark}", "horizon": "short_term", "parent_id": parent["id"]},
            headers=owner,
        )
    )
    w.markers.add(child["id"])
    _ok(
        await goals.post(
            f"/v1/goals/{parent['id']}/status", json={"status": "active"}, headers=owner
        ),
        200,
    )
    check_in = _ok(
        await goals.post(
            f"/v1/goals/{parent['id']}/check-ins",
            json={"key_results": {"talks": 2}, "note": f"note {mark}"},
            headers=owner,
        )
    )
    w.markers.add(check_in["check_in_id"])


async def _seed_feedback(w: World, mark: str) -> None:
    feedback = w.clients["feedback"]
    body = {
        "subject_id": w.ids["owner"],
        "reviewers": [{"person_id": w.ids["reviewer"], "relationship": "peer"}],
        "skills": ["ux_design"],
        "due_date": (date.today() + timedelta(days=7)).isoformat(),
    }

    async def requested() -> dict[str, Any] | None:
        # the people the request names reach feedback's projection over Kafka
        r = await feedback.post("/v1/feedback-requests", json=body, headers=w.a(w.ids["owner"]))
        return dict(r.json()) if r.status_code == 201 else None

    request = await eventually(requested, timeout=60, interval=0.5)
    w.ids["request"] = request["id"]
    _ok(
        await feedback.post(
            "/v1/feedback",
            json={"to": w.ids["owner"], "comment": f"praise {mark}", "visibility": "private"},
            headers=w.a(w.ids["reviewer"]),
        )
    )
    _ok(
        await feedback.put(
            "/v1/people/me/feedback-sharing",
            json={"share_with_mentors": True},
            headers=w.a(w.ids["owner"]),
        ),
        200,
    )


async def _seed_kpis(w: World, mark: str) -> None:
    kpi = w.clients["kpi_ingest"]
    admin = w.a("it", "admin")
    metric = unique("kpi_")  # not the marker: a 404 may echo the key B asked for
    _ok(
        await kpi.post(
            "/v1/metrics",
            json={"key": metric, "name": f"metric {mark}", "unit": "count", "kind": "gauge"},
            headers=admin,
        )
    )
    w.ids["metric"] = metric
    source = _ok(
        await kpi.post(
            "/v1/sources",
            json={"name": f"source {mark}", "format": "generic", "mapping": {}},
            headers=admin,
        )
    )
    w.ids["source"] = source["id"]
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    payload = orjson.dumps(
        {
            "datapoints": [
                {
                    "id": f"p-{mark}",
                    "metric": metric,
                    "value": 41.5,
                    "timestamp": at.isoformat(),
                    "dimensions": {"team": f"team-{mark}"},
                }
            ]
        }
    )
    headers = {
        **signed_headers(source["secret"], payload, msg_id=unique("msg_"), at=None),
        "content-type": "application/json",
    }
    assert (
        await kpi.post(f"/v1/webhooks/{source['id']}", content=payload, headers=headers)
    ).status_code == 202

    async def in_series() -> bool:
        r = await kpi.get(f"/v1/metrics/{metric}/latest", headers=admin)
        return r.status_code == 200 and mark in r.text

    await eventually(in_series, timeout=30)


async def _seed_notifications(w: World, mark: str, receiver: WebhookReceiver) -> None:
    notifications = w.clients["notifications"]
    admin = w.a("it", "admin")
    subscription = _ok(
        await notifications.post(
            "/v1/webhook-subscriptions",
            json={"url": receiver.url(f"/{mark}"), "event_types": ["northstar.goal.*"]},
            headers=admin,
        )
    )
    w.ids["subscription"] = subscription["id"]
    _ok(
        await notifications.put(
            "/v1/preferences",
            json={"time_zone": "Pacific/Chatham"},
            headers=w.a(w.ids["owner"]),
        ),
        200,
    )
    w.markers.add("Pacific/Chatham")

    # the feedback request above puts an item in the reviewer's inbox
    async def inbox_item() -> dict[str, Any] | None:
        r = await notifications.get("/v1/inbox", headers=w.a(w.ids["reviewer"]))
        items = r.json().get("items", []) if r.status_code == 200 else []
        return items[0] if items else None

    item = await eventually(inbox_item, timeout=60, interval=0.5)
    w.ids["notification"] = item["id"]

    # a goal event after the subscription: its delivery to the receiver
    goal = _ok(
        await w.clients["goals"].post(
            "/v1/goals",
            json={"title": f"delivered {mark}", "horizon": "short_term"},
            headers=w.a(w.ids["owner"]),
        )
    )
    w.markers.add(goal["id"])

    async def delivered() -> str | None:
        for hit in receiver.received:
            event = orjson.loads(hit.body)
            if event.get("subject") == goal["id"]:
                return str(event["id"])
        return None

    event_id = await eventually(delivered, timeout=60, interval=0.3)
    w.ids["event"] = event_id
    rows = _ok(
        await notifications.get("/v1/deliveries", params={"event_id": event_id}, headers=admin),
        200,
    )
    assert rows["items"], "tenant A sees its own deliveries"


async def _seed_reviews(w: World, mark: str) -> None:
    reviews = w.clients["reviews"]
    hr = w.a("hr", "hr_admin")
    ladder = _ok(
        await reviews.put(
            f"/v1/ladders/ladder-{mark}",
            json={
                "name": f"ladder {mark}",
                "levels": [
                    {"id": "one", "name": f"level {mark}", "expectations": {"ux_design": 2}}
                ],
            },
            headers=hr,
        ),
        200,
    )
    w.ids["ladder"] = ladder["id"]
    today = date.today()
    steps = ("self_review", "peer_feedback", "manager_review", "calibration", "release")
    cycle = _ok(
        await reviews.post(
            "/v1/review-cycles",
            json={
                "name": f"cycle {mark}",
                "period_start": (today - timedelta(days=90)).isoformat(),
                "period_end": today.isoformat(),
                # the SCIM group: its members reach the reviews projection over Kafka
                "population": {"kind": "group", "value": w.ids["group"]},
                "deadlines": {
                    s: (today + timedelta(days=10 + n)).isoformat() for n, s in enumerate(steps)
                },
            },
            headers=hr,
        )
    )
    w.ids["cycle"] = cycle["id"]

    async def launched() -> bool:
        r = await reviews.post(f"/v1/review-cycles/{cycle['id']}/launch", headers=hr)
        return r.status_code == 200

    await eventually(launched, timeout=60, interval=0.5)
    [review] = _ok(await reviews.get("/v1/reviews", headers=w.a(w.ids["owner"])), 200)["items"]
    w.ids["review"] = review["id"]
    _ok(
        await reviews.put(
            f"/v1/reviews/{review['id']}/self-review",
            json={"ratings": {"ux_design": 3}, "comments": f"self {mark}"},
            headers=w.a(w.ids["owner"]),
        ),
        200,
    )
    _ok(
        await reviews.put(
            "/v1/people/me/career/target", json={"level": "senior_pm"}, headers=w.a(w.ids["owner"])
        ),
        200,
    )


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    hooks.start()
    yield hooks
    hooks.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(smtp: SmtpSink, receiver: WebhookReceiver) -> AsyncIterator[World]:
    run_id = unique()
    settings = {
        "people": isolated_settings(PeopleSettings, run_id),
        "goals": isolated_settings(GoalsSettings, run_id, scheduler_enabled=False),
        "feedback": isolated_settings(FeedbackSettings, run_id),
        "kpi_ingest": isolated_settings(KpiIngestSettings, run_id),
        "notifications": isolated_settings(
            NotificationsSettings,
            run_id,
            smtp_port=smtp.port,
            outbound_allow_list=[f"127.0.0.1:{receiver.port}"],
            worker_poll_interval_s=0.1,
            sse_poll_interval_s=0.2,
            sse_keepalive_s=0.2,  # a keep-alive after every empty poll of the store
        ),
        "reviews": isolated_settings(ReviewsSettings, run_id, scheduler_enabled=False),
    }
    await ensure_topics(settings["goals"], topics.ALL, with_dlq=topics.ALL)
    apps = {name: APPS[name](settings[name]) for name in APPS}
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(running(app)) for name, app in apps.items()
        }
        w = World(clients, apps, tenant_a=unique("ta-"), tenant_b=unique("tb-"))
        mark = unique("secret")
        w.markers.add(mark)
        await _seed_people(w, mark)
        await _seed_goals(w, mark)
        await _seed_feedback(w, mark)
        await _seed_kpis(w, mark)
        await _seed_notifications(w, mark, receiver)
        await _seed_reviews(w, mark)
        # not the owner's id: tenant B's admin has it as its own subject (B's own person)
        w.markers.update(v for k, v in w.ids.items() if k not in ("metric", "owner", "ladder"))
        # SCIM routes take a SCIM token, not a JWT: tenant B's own
        b_token = _ok(
            await clients["people"].post(
                "/v1/scim-tokens", json={"name": "idp"}, headers=w.b_admin()
            )
        )
        w.b_scim = {"Authorization": f"Bearer {b_token['token']}"}

        async def audited() -> bool:
            # tenant A's trail (its SCIM token, KPI source, webhook subscription...) is in the
            # people service's read model before tenant B looks for it there
            page = await clients["people"].get("/v1/audit", headers=w.a("hr", "hr_admin"))
            return len(page.json()["items"]) >= 3

        await eventually(audited, timeout=60)
        yield w


def _openapi_routes(app: FastAPI) -> set[tuple[str, str]]:
    spec = app.openapi()
    return {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method.upper() == "GET"
        or (method.upper() == "DELETE" and path.startswith("/v1/webhook-subscriptions"))
    }


async def test_every_read_route_is_in_the_table() -> None:
    for name, create in APPS.items():
        listed = _openapi_routes(create())
        assert listed == set(ROUTES[name]), f"{name}: add the new read route to ROUTES"


CASES = [
    pytest.param(service, key, entry, id=f"{service}:{key[0]} {key[1]}")
    for service, table in ROUTES.items()
    for key, entry in table.items()
    if entry[1] != "stream"  # its own test below: the response never ends
]


@pytest.mark.parametrize(("service", "route", "entry"), CASES)
async def test_tenant_b_sees_nothing_of_tenant_a(
    world: World, service: str, route: tuple[str, str], entry: tuple[str, str]
) -> None:
    template, expect = entry
    url = template.format(**world.ids)
    # the inbox routes as tenant A's reviewer's id, whose inbox holds tenant A's item
    person = "reviewer" if url.startswith("/v1/inbox") else "owner"
    headers = world.b_scim if url.startswith("/scim/") else world.b_admin(person)
    response = await world.clients[service].request(route[0], url, headers=headers)
    if expect == "missing":
        assert response.status_code == 404, (url, response.status_code, response.text)
    else:
        assert response.status_code == 200, (url, response.status_code, response.text)
    # the 404 problem may echo the id B asked for; nothing else of tenant A may appear
    leaked = {m for m in world.markers if m in response.text and m not in url}
    assert not leaked, (url, leaked, response.text)
    assert world.tenant_a not in response.text


async def test_tenant_a_still_reads_its_own_objects(world: World) -> None:
    """The isolation above is not an empty world: A's admin reads what B could not."""
    admin = world.a(world.ids["owner"], "admin", "hr_admin")
    goal = await world.clients["goals"].get(f"/v1/goals/{world.ids['goal']}", headers=admin)
    assert goal.status_code == 200
    subscription = await world.clients["notifications"].get(
        f"/v1/webhook-subscriptions/{world.ids['subscription']}", headers=admin
    )
    assert subscription.status_code == 200
    series = await world.clients["kpi_ingest"].get(
        f"/v1/metrics/{world.ids['metric']}/series?{SPAN}", headers=admin
    )
    assert series.status_code == 200
    assert "41.5" in series.text


async def test_the_inbox_stream_of_tenant_b_shows_nothing_of_a(world: World) -> None:
    """Both tenants' reviewer (one person id) listen; a new item in A reaches A's stream only.

    The stream is endless, so it is served by a real HTTP server. B's stream polls the store
    and sends a keep-alive after every empty poll: two keep-alives after A's stream got the
    item mean B's stream looked for items after the item was stored, and found none.
    """
    app = world.apps["notifications"]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), lifespan="off", log_config=None)
    )
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, timeout=15)
        base = f"http://127.0.0.1:{server.config.port}"
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as http,
            http.stream(
                "GET", "/v1/inbox/stream", headers=world.a(world.ids["reviewer"])
            ) as a_stream,
            http.stream("GET", "/v1/inbox/stream", headers=world.b_admin("reviewer")) as b_stream,
        ):
            assert a_stream.status_code == b_stream.status_code == 200
            a_lines = a_stream.aiter_lines()
            # B's stream is read as it comes, each line stamped on arrival (a buffered old
            # keep-alive must not pass for a poll made after the item was stored)
            b_seen: list[tuple[float, str]] = []

            async def read_b() -> None:
                async for line in b_stream.aiter_lines():
                    b_seen.append((time.monotonic(), line))

            reading_b = asyncio.create_task(read_b())
            assert await anext(a_lines) == "retry: 1000"  # A's stream is open
            await eventually(lambda: b_seen, timeout=15)  # and B's

            # a new item for tenant A's reviewer: a second feedback request naming them
            body = {
                "subject_id": world.ids["manager"],
                "reviewers": [{"person_id": world.ids["reviewer"], "relationship": "peer"}],
                "skills": ["ux_design"],
                "due_date": (date.today() + timedelta(days=7)).isoformat(),
            }
            created = await world.clients["feedback"].post(
                "/v1/feedback-requests", json=body, headers=world.a(world.ids["manager"])
            )
            assert created.status_code == 201, created.text

            async def a_event() -> str:
                async for line in a_lines:
                    if line.startswith("data:"):
                        return line
                raise AssertionError("tenant A's stream ended")

            await asyncio.wait_for(a_event(), timeout=60)
            stored_by = time.monotonic()

            def keep_alives_after() -> int:
                return sum(1 for at, line in b_seen if at > stored_by and line.startswith(":"))

            # three keep-alives 0.2 s apart: B's stream polled the store after the item was in it
            await eventually(lambda: keep_alives_after() >= 3, timeout=15)
            reading_b.cancel()
            leaked = [line for _, line in b_seen if line.startswith(("event:", "data:"))]
            assert not leaked, leaked
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, timeout=15)
