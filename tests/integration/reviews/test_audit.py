"""Calibration is audited: each calibration change and the closing of the calibration step are
one record each on the audit topic, by the HR admin who did them, with the rating before and
after."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from shared.events import topics
from tests.integration.reviews.conftest import SKILLS, Env
from tests.integration.reviews.test_cycles import HR, ORG, launched, review_of
from tests.support import published, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


async def test_each_calibration_change_is_one_record_by_the_hr_admin(env: Env) -> None:
    tenant = unique("audit-")
    await env.org(tenant, ORG)
    cycle = await launched(env, tenant, {"kind": "department", "value": "Product"})
    review = await review_of(env, tenant, cycle["id"], "ada")
    url = f"/v1/reviews/{review['id']}"
    ratings = dict.fromkeys(SKILLS, 3)
    manager = await env.call(
        "PUT",
        f"{url}/manager-review",
        (tenant, "boss"),
        json={"ratings": ratings, "overall_rating": 3, "summary": "Solid"},
    )
    assert manager.status_code == 200, manager.text
    for rating in (4, 5):
        calibrated = await env.call(
            "POST",
            f"{url}/calibration",
            (tenant, "hr"),
            *HR,
            json={"rating": rating, "reason": f"to {rating}"},
        )
        assert calibrated.status_code == 200, calibrated.text
    refused = await env.call(
        "POST", f"{url}/calibration", (tenant, "hr"), *HR, json={"rating": 9, "reason": "x"}
    )
    assert refused.status_code == 422  # refused: nothing written, nothing recorded
    close = f"/v1/review-cycles/{cycle['id']}/close-calibration"
    for _ in range(2):  # closing again changes nothing and records nothing
        closed = await env.call("POST", close, (tenant, "hr"), *HR)
        assert closed.status_code == 200, closed.text

    def ours(record: Any) -> bool:
        return dict(record.headers)["ce_tenant"].decode() == tenant

    records = await published(env.app, topics.AUDIT, lambda rs: len(rs) >= 3, keep=ours)
    # one object's records are in order (one partition): the review's, then the cycle's
    payloads = [orjson.loads(r.value) for r in records]
    reviews = [p for p in payloads if p["object_type"] == "review"]
    cycles = [p for p in payloads if p["object_type"] == "review_cycle"]
    assert [(p["action"], p["actor_id"], p["object_id"]) for p in reviews + cycles] == [
        ("review.calibrated", "hr", review["id"]),
        ("review.calibrated", "hr", review["id"]),
        ("review_cycle.calibration_closed", "hr", cycle["id"]),
    ]
    first, second, closing = *reviews, *cycles
    assert (first["before"], first["after"]) == ({"final_rating": 3}, {"final_rating": 4})
    assert (second["before"], second["after"]) == ({"final_rating": 4}, {"final_rating": 5})
    assert first["details"] == {"reason": "to 4", "person_id": "ada", "cycle_id": cycle["id"]}
    assert first["actor_roles"] == ["hr_admin"]
    assert closing["before"] == {"calibration_closed_at": None}
    assert closing["after"]["calibration_closed_at"] is not None
