"""Tenant isolation, authorization and refused input of the reviews API (real servers)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.reviews.conftest import SKILLS, Env, cycle_body, deadlines
from tests.support import unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ORG: dict[str, tuple[str | None, str | None]] = {
    "hr": (None, "People"),
    "boss": (None, "Product"),
    "ada": ("boss", "Product"),
    "bob": ("boss", "Product"),
}
HR = ("hr_admin",)


async def setup(env: Env) -> tuple[str, dict[str, Any], str]:
    tenant = unique("access-")
    await env.org(tenant, ORG)
    cycle = (
        await env.call(
            "POST",
            "/v1/review-cycles",
            (tenant, "hr"),
            *HR,
            json=cycle_body({"kind": "department", "value": "Product"}),
        )
    ).json()
    await env.call("POST", f"/v1/review-cycles/{cycle['id']}/launch", (tenant, "hr"), *HR)
    [review] = (await env.call("GET", "/v1/reviews", (tenant, "ada"))).json()["items"]
    return tenant, cycle, review["id"]


async def test_another_tenant_gets_404_for_every_review_and_cycle(env: Env) -> None:
    _tenant, cycle, review_id = await setup(env)
    other = unique("other-")
    for sub, roles in (("hr", HR), ("ada", ())):
        who = (other, sub)
        for url in (
            f"/v1/reviews/{review_id}",
            f"/v1/reviews/{review_id}/packet",
            f"/v1/review-cycles/{cycle['id']}",
            f"/v1/review-cycles/{cycle['id']}/calibration",
            f"/v1/review-cycles/{cycle['id']}/export.csv",
        ):
            response = await env.call("GET", url, who, *roles)
            expected = 403 if "review-cycles" in url and not roles else 404
            assert response.status_code == expected, (url, sub, response.text)
        calibrate = await env.call(
            "POST",
            f"/v1/reviews/{review_id}/calibration",
            who,
            *HR,
            json={"rating": 1, "reason": "x"},
        )
        assert calibrate.status_code == 404
        assert (await env.call("GET", "/v1/reviews", who, *roles)).json()["items"] == []
        listed = await env.call("GET", "/v1/review-cycles", (other, "hr"), *HR)
        assert listed.json()["items"] == []
    hr = (other, "hr")
    assert (await env.call("GET", "/v1/people/ada/gaps", hr, *HR)).status_code == 404
    assert (await env.call("GET", "/v1/people/ada/career", hr, *HR)).status_code == 404


async def test_only_the_parties_read_or_write_a_review(env: Env) -> None:
    tenant, _cycle, review_id = await setup(env)
    url = f"/v1/reviews/{review_id}"
    # bob, a peer of ada, reads nothing of her review, her packet or her career record
    for path in (url, f"{url}/packet"):
        assert (await env.call("GET", path, (tenant, "bob"))).status_code == 404
    assert (await env.call("GET", "/v1/people/ada/career", (tenant, "bob"))).status_code == 404
    assert (await env.call("GET", "/v1/people/ada/gaps", (tenant, "bob"))).status_code == 404
    # the manager cannot write ada's self review, ada cannot write the manager review
    form = {"ratings": dict.fromkeys(SKILLS, 3)}
    assert (
        await env.call("PUT", f"{url}/self-review", (tenant, "boss"), json=form)
    ).status_code == 403
    manager_form = {**form, "overall_rating": 5, "summary": "Me"}
    response = await env.call("PUT", f"{url}/manager-review", (tenant, "ada"), json=manager_form)
    assert response.status_code == 403
    # employees neither run cycles nor calibrate
    assert (
        await env.call(
            "POST", "/v1/review-cycles", (tenant, "ada"), json=cycle_body({"kind": "everyone"})
        )
    ).status_code == 403
    assert (
        await env.call(
            "POST", f"{url}/calibration", (tenant, "boss"), json={"rating": 5, "reason": "x"}
        )
    ).status_code == 403
    assert (
        await env.call(
            "PUT",
            "/v1/ladders/product_management",
            (tenant, "boss"),
            json={"name": "x", "levels": []},
        )
    ).status_code == 403


async def test_bad_input_is_a_422_problem_and_writes_nothing(env: Env) -> None:
    tenant, cycle, review_id = await setup(env)
    url = f"/v1/reviews/{review_id}"
    bad_forms = [
        {"ratings": {"communication": 6}},
        {"ratings": {"communication": True}},
        {"ratings": {"not_a_skill": 3}},
        {"ratings": {"$where": 3}},
        {"ratings": {}, "goal_comments": {"a.b": "dotted keys are field paths"}},
        {"ratings": {}, "surprise": 1},
    ]
    for body in bad_forms:
        response = await env.call("PUT", f"{url}/self-review", (tenant, "ada"), json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    review = (await env.call("GET", url, (tenant, "ada"))).json()
    assert review["self_review"] is None
    assert (
        await env.call("PUT", f"{url}/peers", (tenant, "ada"), json={"peer_ids": ["nobody"]})
    ).status_code == 422
    assert (
        await env.call("PUT", f"{url}/peers", (tenant, "ada"), json={"peer_ids": ["ada"]})
    ).status_code == 422
    assert (await env.call("GET", url, (tenant, "ada"))).json()["nominated_peers"] == []

    bad_cycles = [
        cycle_body({"kind": "department"}),  # which department?
        cycle_body({"kind": "everyone"}, deadlines=deadlines({"calibration": 40})),  # > release
        {**cycle_body({"kind": "everyone"}), "period_end": "2020-01-01"},
        {**cycle_body({"kind": "everyone"}), "deadlines": {"self_review": "2030-01-01"}},
        cycle_body({"kind": "everybody"}),
    ]
    for body in bad_cycles:
        response = await env.call("POST", "/v1/review-cycles", (tenant, "hr"), *HR, json=body)
        assert response.status_code == 422, (body, response.text)
    listed = (await env.call("GET", "/v1/review-cycles", (tenant, "hr"), *HR)).json()["items"]
    assert [c["id"] for c in listed] == [cycle["id"]]
    assert (
        await env.call(
            "POST", f"{url}/calibration", (tenant, "hr"), *HR, json={"rating": 3, "reason": "  "}
        )
    ).status_code == 422
    bad_ladder = {
        "name": "PM",
        "levels": [{"id": "pm", "name": "PM", "expectations": {"communication": 9}}],
    }
    assert (
        await env.call(
            "PUT", "/v1/ladders/product_management", (tenant, "hr"), *HR, json=bad_ladder
        )
    ).status_code == 422
    ladder = (await env.call("GET", "/v1/ladders/product_management", (tenant, "hr"))).json()
    assert ladder["built_in"] is True
    assert len(ladder["levels"]) == 5


async def test_what_the_fuzzer_found_answers_as_the_openapi_says(env: Env) -> None:
    """Whole floats are integers, rules between fields are `rule-not-met`, an empty population
    is a 409 at launch (tests/fuzz found each refused as `invalid-input`)."""
    tenant, _cycle, review_id = await setup(env)
    url = f"/v1/reviews/{review_id}"
    ratings = dict.fromkeys(SKILLS, 4.0)
    response = await env.call(
        "PUT", f"{url}/self-review", (tenant, "ada"), json={"ratings": ratings}
    )
    assert response.status_code == 200, response.text
    assert response.json()["self_review"]["ratings"] == dict.fromkeys(SKILLS, 4)

    level = {"id": "pm", "name": "PM", "expectations": {"communication": 3}}
    response = await env.call(
        "PUT",
        "/v1/ladders/product_management",
        (tenant, "hr"),
        *HR,
        json={"name": "PM", "levels": [level, level]},
    )
    assert (response.status_code, response.json()["type"]) == (422, "/problems/rule-not-met")
    response = await env.call(
        "PUT", "/v1/ladders/Ünïcode", (tenant, "hr"), *HR, json={"name": "PM", "levels": [level]}
    )
    assert (response.status_code, response.json()["type"]) == (422, "/problems/invalid-input")

    nobody = (
        await env.call(
            "POST",
            "/v1/review-cycles",
            (tenant, "hr"),
            *HR,
            json=cycle_body({"kind": "department", "value": "Nobody works here"}),
        )
    ).json()
    response = await env.call(
        "POST", f"/v1/review-cycles/{nobody['id']}/launch", (tenant, "hr"), *HR
    )
    assert response.status_code == 409, response.text
    assert (await env.call("GET", f"/v1/review-cycles/{nobody['id']}", (tenant, "hr"), *HR)).json()[
        "status"
    ] == "draft"
