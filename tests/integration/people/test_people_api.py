"""The people API: directory, org chart, manager cycles, mentorships and HRIS imports."""

from __future__ import annotations

import pytest

from tests.integration.people.conftest import SCIM, People
from tests.support import bearer

pytestmark = pytest.mark.integration

HR = bearer("acme", "hr-1", "hr_admin")
EMPLOYEE = bearer("acme", "emp-1", "employee")

EXPORT = """employee_id,email,first_name,last_name,job_title,department,manager_id
E1,ceo@acme.com,Cleo,Chief,CEO,Exec,
E2,vp@acme.com,Val,Product,VP Product,Product,E1
E3,pm1@acme.com,Pat,One,PM,Product,E2
E4,pm2@acme.com,Sam,Two,PM,Product,E2
E5,eng@acme.com,Eve,Eng,Engineer,Engineering,E1
"""


async def imported(people: People, csv: str, **params: str) -> dict[str, object]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = await people.client.post(
        f"/v1/imports?{query}", json={"format": "csv", "csv": csv}, headers=HR
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


async def ids_by_email(people: People) -> dict[str, str]:
    listed = (await people.client.get("/v1/people?limit=200", headers=EMPLOYEE)).json()
    return {p["email"]: p["id"] for p in listed["items"]}


async def test_import_dry_run_changes_nothing_then_applies_the_org_chart(people: People) -> None:
    dry = await imported(people, EXPORT, dry_run="true")
    assert dry["summary"]["created"] == 5  # type: ignore[index]
    assert dry["applied"] is False
    assert (await people.client.get("/v1/people", headers=EMPLOYEE)).json()["items"] == []

    await imported(people, EXPORT)
    ids = await ids_by_email(people)
    client = people.client
    reports = (
        await client.get(f"/v1/people/{ids['vp@acme.com']}/reports", headers=EMPLOYEE)
    ).json()
    assert sorted(p["email"] for p in reports["items"]) == ["pm1@acme.com", "pm2@acme.com"]
    everyone = (
        await client.get(f"/v1/people/{ids['ceo@acme.com']}/reports?depth=all", headers=EMPLOYEE)
    ).json()
    assert len(everyone["items"]) == 4
    chain = (await client.get(f"/v1/people/{ids['pm1@acme.com']}/chain", headers=EMPLOYEE)).json()
    assert [p["email"] for p in chain["items"]] == ["vp@acme.com", "ceo@acme.com"]
    product = (await client.get("/v1/people?department=product", headers=EMPLOYEE)).json()
    assert len(product["items"]) == 3
    page = (await client.get("/v1/people?limit=2", headers=EMPLOYEE)).json()
    rest = (
        await client.get(f"/v1/people?limit=10&cursor={page['next_cursor']}", headers=EMPLOYEE)
    ).json()
    assert len(page["items"]) == 2
    assert len(rest["items"]) == 3
    assert rest["next_cursor"] is None

    # a manager change in the next export shows up in the diff
    moved = EXPORT.replace(
        "E4,pm2@acme.com,Sam,Two,PM,Product,E2", "E4,pm2@acme.com,Sam,Two,PM,Product,E1"
    )
    diff = await imported(people, moved, dry_run="true")
    assert diff["manager_changes"] == [  # type: ignore[comparison-overlap]
        {
            "id": ids["pm2@acme.com"],
            "external_id": "E4",
            "user_name": "pm2@acme.com",
            "old_manager_id": ids["vp@acme.com"],
            "new_manager_id": ids["ceo@acme.com"],
        }
    ]
    # the people are SCIM users too
    token = await people.scim_token("acme")
    scim = await client.get(f"{SCIM}/Users/{ids['pm1@acme.com']}", headers=token)
    assert scim.json()["userName"] == "pm1@acme.com"


async def test_the_guard_refuses_a_mass_deactivation_unless_forced(people: People) -> None:
    await imported(people, EXPORT)
    shrunk = "\n".join(EXPORT.splitlines()[:3]) + "\n"  # only E1 and E2 remain: 3 of 5 leave
    refused = await people.client.post(
        "/v1/imports", json={"format": "csv", "csv": shrunk}, headers=HR
    )
    assert refused.status_code == 409
    assert refused.json()["diff"]["summary"]["deactivated"] == 3
    active = (await people.client.get("/v1/people?active=true", headers=EMPLOYEE)).json()
    assert len(active["items"]) == 5

    forced = await imported(people, shrunk, force="true")
    assert forced["summary"]["deactivated"] == 3  # type: ignore[index]
    active = (await people.client.get("/v1/people?active=true", headers=EMPLOYEE)).json()
    assert len(active["items"]) == 2


async def test_manager_cycles_are_refused_everywhere(people: People) -> None:
    await imported(people, EXPORT)
    ids = await ids_by_email(people)
    client = people.client
    cycle = await client.put(
        f"/v1/people/{ids['ceo@acme.com']}/manager",
        json={"manager_id": ids["pm1@acme.com"]},
        headers=HR,
    )
    assert cycle.status_code == 422
    assert cycle.json()["type"] == "/problems/manager-cycle"
    self_managed = await client.put(
        f"/v1/people/{ids['vp@acme.com']}/manager",
        json={"manager_id": ids["vp@acme.com"]},
        headers=HR,
    )
    assert self_managed.status_code == 422
    forbidden = await client.put(
        f"/v1/people/{ids['vp@acme.com']}/manager", json={"manager_id": None}, headers=EMPLOYEE
    )
    assert forbidden.status_code == 403

    looped = EXPORT.replace(
        "E1,ceo@acme.com,Cleo,Chief,CEO,Exec,", "E1,ceo@acme.com,Cleo,Chief,CEO,Exec,E3"
    )
    refused = await client.post(
        "/v1/imports?dry_run=true", json={"format": "csv", "csv": looped}, headers=HR
    )
    assert refused.status_code == 422
    assert refused.json()["type"] == "/problems/manager-cycle"

    token = await people.scim_token("acme")
    scim_cycle = await client.patch(
        f"{SCIM}/Users/{ids['ceo@acme.com']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {
                    "op": "replace",
                    "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    "value": ids["pm2@acme.com"],
                }
            ],
        },
        headers=token,
    )
    assert scim_cycle.status_code == 400
    assert scim_cycle.json()["scimType"] == "invalidValue"


async def test_mentorships_start_list_and_end(people: People) -> None:
    await imported(people, EXPORT)
    ids = await ids_by_email(people)
    client = people.client
    pm1 = bearer("acme", ids["pm1@acme.com"], "employee")
    started = await client.post(
        "/v1/mentorships",
        json={
            "mentor_id": ids["vp@acme.com"],
            "mentee_id": ids["pm1@acme.com"],
            "focus_skills": ["leadership"],
        },
        headers=pm1,
    )
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "pending"  # the mentor has not agreed yet
    accepted = await client.post(
        f"/v1/mentorships/{started.json()['id']}/accept",
        headers=bearer("acme", ids["vp@acme.com"], "employee"),
    )
    assert accepted.status_code == 200, accepted.text
    for_someone_else = await client.post(
        "/v1/mentorships",
        json={"mentor_id": ids["vp@acme.com"], "mentee_id": ids["pm2@acme.com"]},
        headers=pm1,
    )
    assert for_someone_else.status_code == 403
    twice = await client.post(
        "/v1/mentorships",
        json={"mentor_id": ids["vp@acme.com"], "mentee_id": ids["pm1@acme.com"]},
        headers=HR,
    )
    assert twice.status_code == 409
    mentors = (
        await client.get(f"/v1/people/{ids['pm1@acme.com']}/mentors", headers=EMPLOYEE)
    ).json()
    assert [p["id"] for p in mentors["items"]] == [ids["vp@acme.com"]]
    mentees = (
        await client.get(f"/v1/people/{ids['vp@acme.com']}/mentees", headers=EMPLOYEE)
    ).json()
    assert [p["id"] for p in mentees["items"]] == [ids["pm1@acme.com"]]

    ended = await client.delete(f"/v1/mentorships/{started.json()['id']}", headers=HR)
    assert ended.status_code == 204
    mentors = (
        await client.get(f"/v1/people/{ids['pm1@acme.com']}/mentors", headers=EMPLOYEE)
    ).json()
    assert mentors["items"] == []


async def test_hr_deactivates_a_person_once_and_employees_cannot(people: People) -> None:
    await imported(people, EXPORT)
    ids = await ids_by_email(people)
    pm = ids["pm1@acme.com"]
    refused = await people.client.post(f"/v1/people/{pm}/deactivate", headers=EMPLOYEE)
    assert refused.status_code == 403
    assert (await people.client.get(f"/v1/people/{pm}", headers=EMPLOYEE)).json()["active"]

    done = await people.client.post(f"/v1/people/{pm}/deactivate", headers=HR)
    assert done.status_code == 200, done.text
    assert done.json()["active"] is False
    again = await people.client.post(f"/v1/people/{pm}/deactivate", headers=HR)
    assert again.status_code == 200
    inactive = (await people.client.get("/v1/people?active=false", headers=EMPLOYEE)).json()
    assert [p["email"] for p in inactive["items"]] == ["pm1@acme.com"]
    # another tenant's HR admin cannot reach this person
    other_hr = bearer("globex", "hr-2", "hr_admin")
    elsewhere = await people.client.post(
        f"/v1/people/{ids['pm2@acme.com']}/deactivate", headers=other_hr
    )
    assert elsewhere.status_code == 404


async def test_an_import_with_an_address_people_cannot_have_is_refused_whole(
    people: People,
) -> None:
    # a reserved domain: the row is named and nothing is written (it used to fail with a 500
    # while the import was applied, after the rows before it were stored)
    export = EXPORT + "E6,new@acme.test,New,Hire,PM,Product,E2\n"
    response = await people.client.post(
        "/v1/imports", json={"format": "csv", "csv": export}, headers=HR
    )
    assert response.status_code == 422, response.text
    assert response.json()["problems"] == [
        "row 6: email 'new@acme.test': value is not a valid email address: The part after the "
        "@-sign is a special-use or reserved name that cannot be used with email."
    ]
    assert (await people.client.get("/v1/people", headers=EMPLOYEE)).json()["items"] == []
