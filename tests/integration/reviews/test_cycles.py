"""Review cycles end to end on the real servers: launch, peers through the real feedback
service, calibration, release and acknowledgement, CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from shared.events.reviews import ReviewPeerFeedbackRequested
from tests.integration.reviews.conftest import SKILLS, Env, cycle_body
from tests.support import after_sentinel, bearer, eventually, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

# id -> (manager, department)
ORG: dict[str, tuple[str | None, str | None]] = {
    "hr": (None, "People"),
    "boss": (None, "Product"),
    "ada": ("boss", "Product"),
    "bob": ("boss", "Product"),
    "cy": ("boss", "Product"),
    "dee": ("boss", "Product"),
    "sam": (None, "Sales"),
}
HR = ("hr_admin",)


async def launched(env: Env, tenant: str, population: dict[str, Any]) -> dict[str, Any]:
    created = await env.call(
        "POST", "/v1/review-cycles", (tenant, "hr"), *HR, json=cycle_body(population)
    )
    assert created.status_code == 201, created.text
    cycle = created.json()
    launch = await env.call("POST", f"/v1/review-cycles/{cycle['id']}/launch", (tenant, "hr"), *HR)
    assert launch.status_code == 200, launch.text
    return dict(launch.json())


async def review_of(env: Env, tenant: str, cycle_id: str, person: str) -> dict[str, Any]:
    listing = await env.call("GET", f"/v1/reviews?cycle_id={cycle_id}", (tenant, person))
    [review] = [r for r in listing.json()["items"] if r["person_id"] == person]
    return dict(review)


async def test_a_cycle_launched_for_a_department_creates_its_reviews_and_peer_requests(
    env: Env,
) -> None:
    tenant = unique("launch-")
    await env.org(tenant, ORG)
    cycle = await launched(env, tenant, {"kind": "department", "value": "Product"})
    assert cycle["status"] == "launched"
    assert cycle["review_count"] == 5
    listing = await env.call("GET", f"/v1/reviews?cycle_id={cycle['id']}", (tenant, "hr"), *HR)
    people = sorted(r["person_id"] for r in listing.json()["items"])
    assert people == ["ada", "bob", "boss", "cy", "dee"]  # not sam (Sales) nor hr (People)
    again = await env.call("POST", f"/v1/review-cycles/{cycle['id']}/launch", (tenant, "hr"), *HR)
    assert again.status_code == 409

    review = await review_of(env, tenant, cycle["id"], "ada")
    nominate = await env.call(
        "PUT",
        f"/v1/reviews/{review['id']}/peers",
        (tenant, "ada"),
        json={"peer_ids": ["bob", "cy", "dee"]},
    )
    assert nominate.status_code == 200, nominate.text
    refused = await env.call(
        "POST", f"/v1/reviews/{review['id']}/peers/approve", (tenant, "ada"), json={}
    )
    assert refused.status_code == 403  # only the manager approves
    approve = await env.call(
        "POST", f"/v1/reviews/{review['id']}/peers/approve", (tenant, "boss"), json={}
    )
    assert approve.status_code == 200, approve.text
    assert approve.json()["approved_peers"] == ["bob", "cy", "dee"]

    async def asked(who: str) -> list[dict[str, Any]]:
        response = await env.feedback.get(
            "/v1/feedback-requests?assigned_to=me&status=open", headers=bearer(tenant, who)
        )
        return [r for r in response.json()["items"] if r["subject_id"] == "ada"]

    for peer in ("bob", "cy", "dee"):
        [request] = await eventually(lambda peer=peer: asked(peer), timeout=30)
        assert request["kind"] == "review"
        assert request["anonymous"] is True  # three peers: feedback's anonymity rules apply
        assert sorted(request["skills"]) == sorted(SKILLS)
    events = await env.review_events(tenant, expected=5 + 1 + 1 + 1)
    types = sorted(e.type.split(".")[2] for e in events)
    assert types.count("assigned") == 5
    assert types.count("cycle_launched") == 1
    assert types.count("peer_feedback_requested") == 1
    # a redelivered approval asks nobody twice (the request id comes from the event id); the
    # sentinel, on the same key, asks sam: once sam is asked the duplicate has been handled
    [approval] = [e for e in events if e.type.endswith("peer_feedback_requested.v1")]
    await env.app.state.runtime.producer.publish(approval)
    sentinel = ReviewPeerFeedbackRequested.model_validate(
        {**approval.data, "reviewer_ids": ["sam"], "anonymous": False, "min_responses": None}
    )
    await after_sentinel(
        lambda: env.publish(sentinel, subject=approval.subject), lambda: asked("sam")
    )
    for peer in ("bob", "cy", "dee"):
        assert len(await asked(peer)) == 1


async def test_calibration_release_and_acknowledgement(env: Env) -> None:
    tenant = unique("release-")
    await env.org(tenant, ORG)
    cycle = await launched(env, tenant, {"kind": "department", "value": "Product"})
    review = await review_of(env, tenant, cycle["id"], "ada")
    url = f"/v1/reviews/{review['id']}"
    ratings = dict.fromkeys(SKILLS, 3)
    own = await env.call(
        "PUT",
        f"{url}/self-review",
        (tenant, "ada"),
        json={"ratings": ratings, "comments": "A good half"},
    )
    assert own.status_code == 200, own.text
    manager = await env.call(
        "PUT",
        f"{url}/manager-review",
        (tenant, "boss"),
        json={"ratings": {**ratings, "leadership": 4}, "overall_rating": 3, "summary": "Solid"},
    )
    assert manager.status_code == 200, manager.text

    # before release the person sees neither the manager review nor the rating
    mine = (await env.call("GET", url, (tenant, "ada"))).json()
    assert mine["manager_review"] is None
    assert mine["final_rating"] is None
    early = await env.call("POST", f"{url}/acknowledge", (tenant, "ada"))
    assert early.status_code == 409

    calibrated = await env.call(
        "POST",
        f"{url}/calibration",
        (tenant, "hr"),
        *HR,
        json={"rating": 4, "reason": "Led the launch across teams"},
    )
    assert calibrated.status_code == 200, calibrated.text
    [adjustment] = calibrated.json()["calibration"]
    assert adjustment["old_rating"] == 3
    assert adjustment["new_rating"] == 4
    assert adjustment["reason"] == "Led the launch across teams"
    assert adjustment["by"] == "hr"
    assert adjustment["at"]
    view = await env.call(
        "GET", f"/v1/review-cycles/{cycle['id']}/calibration", (tenant, "hr"), *HR
    )
    assert view.json()["by_department"] == {"Product": {"4": 1}}
    assert view.json()["by_team"] == {"boss": {"4": 1}}

    released = await env.call(
        "POST", f"/v1/review-cycles/{cycle['id']}/release", (tenant, "hr"), *HR
    )
    assert released.json() == {"released": 1, "without_manager_review": 4}
    mine = (await env.call("GET", url, (tenant, "ada"))).json()
    assert mine["manager_review"]["summary"] == "Solid"
    assert mine["final_rating"] == 4
    assert mine["calibration"] is None  # the record stays with managers and HR
    ack = await env.call("POST", f"{url}/acknowledge", (tenant, "ada"))
    assert ack.status_code == 200
    assert ack.json()["acknowledged_at"]
    late = await env.call(
        "POST", f"{url}/calibration", (tenant, "hr"), *HR, json={"rating": 2, "reason": "too late"}
    )
    assert late.status_code == 409

    export = await env.call(
        "GET", f"/v1/review-cycles/{cycle['id']}/export.csv", (tenant, "hr"), *HR
    )
    assert export.headers["content-type"].startswith("text/csv")
    rows = {r["person_id"]: r for r in csv.DictReader(io.StringIO(export.text))}
    assert set(rows) == {"ada", "bob", "boss", "cy", "dee"}
    assert rows["ada"]["final_rating"] == "4"
    assert rows["ada"]["manager_rating"] == "3"
    assert rows["ada"]["calibration_reason"] == "Led the launch across teams"
    assert rows["ada"]["acknowledged"] == "True"
    assert rows["bob"]["released"] == "False"
    events = await env.review_events(tenant, expected=1 + 5 + 2 + 1 + 1 + 1)
    kinds = [e.type.split(".")[2] for e in events if e.subject == review["id"]]
    assert kinds.count("submitted") == 2
    assert kinds.count("calibrated") == 1
    assert kinds.count("released") == 1
    assert kinds.count("acknowledged") == 1
