"""A mentee's own mentorship request is pending until the named mentor accepts: nobody becomes
someone's mentor (and starts receiving their celebrations) without agreeing. HR pairs at once."""

from __future__ import annotations

from typing import Any

import pytest

from shared.events import from_record, topics
from tests.integration.people.conftest import People
from tests.support import bearer, published, unique

pytestmark = pytest.mark.integration

EXPORT = """employee_id,email,first_name,last_name,job_title,department,manager_id
E1,vp@acme.com,Val,Product,VP Product,Product,
E2,pm@acme.com,Pat,One,PM,Product,E1
E3,peer@acme.com,Sam,Two,PM,Product,E1
"""


async def org(people: People, tenant: str) -> dict[str, str]:
    hr = bearer(tenant, "hr-1", "hr_admin")
    response = await people.client.post(
        "/v1/imports", json={"format": "csv", "csv": EXPORT}, headers=hr
    )
    assert response.status_code == 200, response.text
    listed = (await people.client.get("/v1/people", headers=hr)).json()["items"]
    return {p["email"].split("@")[0]: p["id"] for p in listed}


async def listed(people: People, tenant: str, person: str, which: str) -> list[str]:
    response = await people.client.get(
        f"/v1/people/{person}/{which}", headers=bearer(tenant, "someone")
    )
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["items"]]


async def events_of(people: People, subject: str) -> list[str]:
    """The types of the mentorship's events on the people topic, every one published so far."""
    app: Any = people.client._transport.app  # type: ignore[attr-defined]

    def ours(record: Any) -> bool:
        return bool(dict(record.headers)["ce_subject"].decode() == subject)

    records = await published(app, topics.PEOPLE, keep=ours)
    return [from_record(r.value, list(r.headers)).type.split(".")[2] for r in records]


async def ask(people: People, tenant: str, mentor: str, mentee: str) -> Any:
    return await people.client.post(
        "/v1/mentorships",
        json={"mentor_id": mentor, "mentee_id": mentee, "focus_skills": ["leadership"]},
        headers=bearer(tenant, mentee),
    )


async def test_a_requested_mentor_is_nobodys_mentor_until_they_accept(people: People) -> None:
    tenant = unique("m-")
    ids = await org(people, tenant)
    vp, pm, peer = ids["vp"], ids["pm"], ids["peer"]

    asked = await ask(people, tenant, vp, pm)

    assert asked.status_code == 201, asked.text
    mentorship = asked.json()
    assert (mentorship["status"], mentorship["active"]) == ("pending", False)
    assert await listed(people, tenant, pm, "mentors") == []
    assert await listed(people, tenant, vp, "mentees") == []
    assert await events_of(people, mentorship["id"]) == ["requested"]  # no "started" yet

    accept = f"/v1/mentorships/{mentorship['id']}/accept"
    for who in (pm, peer):  # only the person asked can agree
        refused = await people.client.post(accept, headers=bearer(tenant, who))
        assert refused.status_code == 403, refused.text
    elsewhere = await people.client.post(accept, headers=bearer(unique("other-"), vp))
    assert elsewhere.status_code == 404
    assert await listed(people, tenant, pm, "mentors") == []

    accepted = await people.client.post(accept, headers=bearer(tenant, vp))

    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["status"], accepted.json()["active"]) == ("active", True)
    assert await listed(people, tenant, pm, "mentors") == [vp]
    assert await listed(people, tenant, vp, "mentees") == [pm]
    again = await people.client.post(accept, headers=bearer(tenant, vp))
    assert again.status_code == 409
    assert await events_of(people, mentorship["id"]) == ["requested", "started"]


async def test_a_declined_request_starts_nothing_and_the_pair_can_ask_again(
    people: People,
) -> None:
    tenant = unique("m-")
    ids = await org(people, tenant)
    vp, pm = ids["vp"], ids["pm"]
    mentorship = (await ask(people, tenant, vp, pm)).json()
    assert (await ask(people, tenant, vp, pm)).status_code == 409  # one open request per pair

    declined = await people.client.post(
        f"/v1/mentorships/{mentorship['id']}/decline", headers=bearer(tenant, vp)
    )

    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    accept_late = await people.client.post(
        f"/v1/mentorships/{mentorship['id']}/accept", headers=bearer(tenant, vp)
    )
    assert accept_late.status_code == 409
    assert await listed(people, tenant, pm, "mentors") == []
    assert await events_of(people, mentorship["id"]) == ["requested", "declined"]
    assert (await ask(people, tenant, vp, pm)).status_code == 201


async def test_hr_pairs_people_at_once(people: People) -> None:
    tenant = unique("m-")
    ids = await org(people, tenant)
    paired = await people.client.post(
        "/v1/mentorships",
        json={"mentor_id": ids["vp"], "mentee_id": ids["pm"]},
        headers=bearer(tenant, "hr-1", "hr_admin"),
    )

    assert paired.status_code == 201, paired.text
    assert paired.json()["status"] == "active"
    assert await listed(people, tenant, ids["pm"], "mentors") == [ids["vp"]]
    assert await events_of(people, paired.json()["id"]) == ["started"]
