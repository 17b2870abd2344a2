"""SCIM attribute names are case-insensitive (RFC 7643 §2.1): bodies, the enterprise extension,
PATCH paths and values, filters and ``attributes`` in any case, as third-party test collections
send them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.people.conftest import ENTERPRISE, GROUP, PATCH, SCIM, USER, People
from tests.support import bearer

pytestmark = pytest.mark.integration


def capitalized_user(user_name: str, manager: str | None = None) -> dict[str, Any]:
    extension: dict[str, Any] = {"Department": "bob", "EmployeeNumber": "701984"}
    if manager:
        extension["Manager"] = {"Value": manager}
    return {
        "Schemas": [USER, ENTERPRISE],
        "UserName": user_name,
        "Active": True,
        "DisplayName": "Babs Jensen",
        "ExternalId": f"ext-{user_name}",
        "Name": {"GivenName": "Barbara", "FamilyName": "Jensen"},
        "Emails": [{"Value": f"{user_name}@acme.com", "Type": "work", "Primary": True}],
        "Title": "Tour Guide",
        "Timezone": "Europe/Paris",
        ENTERPRISE: extension,
    }


async def create(people: People, auth: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await people.client.post(f"{SCIM}/Users", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def person(people: People, person_id: str) -> dict[str, Any]:
    response = await people.client.get(
        f"/v1/people/{person_id}", headers=bearer("acme", "hr-1", "hr_admin")
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_capitalized_user_with_its_enterprise_extension_is_provisioned(
    people: People,
) -> None:
    auth = await people.scim_token("acme")
    boss = await create(people, auth, capitalized_user("suzzyq"))
    user = await create(people, auth, capitalized_user("babs", manager=boss["id"]))

    assert user["userName"] == "babs"
    assert user["name"] == {"givenName": "Barbara", "familyName": "Jensen"}
    assert user["emails"][0]["value"] == "babs@acme.com"
    extension = user[ENTERPRISE]
    assert extension["department"] == "bob"
    assert extension["employeeNumber"] == "701984"
    assert extension["manager"]["value"] == boss["id"]
    assert extension["manager"]["$ref"].endswith(f"/Users/{boss['id']}")

    facts = await person(people, user["id"])
    assert facts["manager_id"] == boss["id"]
    assert facts["department"] == "bob"
    assert facts["display_name"] == "Babs Jensen"
    assert facts["time_zone"] == "Europe/Paris"


async def test_a_manager_given_as_a_bare_capitalized_value_is_accepted(people: People) -> None:
    auth = await people.scim_token("acme")
    body = capitalized_user("babs")
    body[ENTERPRISE]["Manager"] = {"Value": "SuzzyQ", "DisplayName": "Suzzy"}
    user = await create(people, auth, body)
    assert user[ENTERPRISE]["manager"]["value"] == "SuzzyQ"


async def test_filters_and_attributes_match_names_in_any_case(people: People) -> None:
    auth = await people.scim_token("acme")
    user = await create(people, auth, capitalized_user("babs"))
    await create(people, auth, capitalized_user("other"))

    for query in (
        'UserName eq "babs"',
        'USERNAME Eq "BABS"',
        'Emails.Value eq "babs@acme.com"',
        'Name.FamilyName sw "Jen" and UserName eq "babs"',
        f'{ENTERPRISE}:EmployeeNumber eq "701984" and ExternalId eq "ext-babs"',
    ):
        found = await people.client.get(f"{SCIM}/Users", params={"filter": query}, headers=auth)
        assert found.status_code == 200, (query, found.text)
        assert [r["id"] for r in found.json()["Resources"]] == [user["id"]], query

    searched = await people.client.post(
        f"{SCIM}/Users/.search",
        json={
            "Schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "Filter": 'userName EQ "babs"',
            "StartIndex": 1,
            "Count": 10,
            "Attributes": ["UserName"],
        },
        headers=auth,
    )
    assert searched.status_code == 200, searched.text
    assert [r["id"] for r in searched.json()["Resources"]] == [user["id"]]
    assert "emails" not in searched.json()["Resources"][0]

    picked = await people.client.get(
        f"{SCIM}/Users/{user['id']}",
        params={"attributes": "UserName,Name.GivenName"},
        headers=auth,
    )
    assert picked.status_code == 200, picked.text
    assert picked.json()["userName"] == "babs"
    assert picked.json()["name"] == {"givenName": "Barbara"}
    assert "emails" not in picked.json()


async def test_patch_paths_and_values_in_any_case(people: People) -> None:
    auth = await people.scim_token("acme")
    boss = await create(people, auth, capitalized_user("suzzyq"))
    user = await create(people, auth, capitalized_user("babs"))
    operations = [
        {"Op": "Replace", "Path": "Name.GivenName", "Value": "Babs"},
        {"op": "replace", "path": f"{ENTERPRISE}:Manager", "value": {"Value": boss["id"]}},
        {"op": "replace", "path": f"{ENTERPRISE}:Department", "value": "Tours"},
        {"op": "replace", "value": {"Title": "Head Guide", "DisplayName": "Babs J."}},
    ]
    patched = await people.client.patch(
        f"{SCIM}/Users/{user['id']}",
        json={"Schemas": [PATCH], "Operations": operations},
        headers=auth,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"]["givenName"] == "Babs"
    assert body["title"] == "Head Guide"
    assert body[ENTERPRISE]["department"] == "Tours"
    assert body[ENTERPRISE]["manager"]["value"] == boss["id"]

    deactivated = await people.client.patch(
        f"{SCIM}/Users/{user['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "Replace", "path": "Active", "value": "False"}],
        },
        headers=auth,
    )
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["active"] is False
    facts = await person(people, user["id"])
    assert facts["manager_id"] == boss["id"]
    assert facts["active"] is False

    cleared = await people.client.patch(
        f"{SCIM}/Users/{user['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "Remove", "Path": f"{ENTERPRISE}:Manager"}],
        },
        headers=auth,
    )
    assert cleared.status_code == 200, cleared.text
    assert "manager" not in cleared.json()[ENTERPRISE]
    assert (await person(people, user["id"]))["manager_id"] is None


async def test_a_capitalized_group_with_members(people: People) -> None:
    auth = await people.scim_token("acme")
    user = await create(people, auth, capitalized_user("babs"))
    created = await people.client.post(
        f"{SCIM}/Groups",
        json={"Schemas": [GROUP], "DisplayName": "Tour Guides", "Members": [{"Value": user["id"]}]},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["displayName"] == "Tour Guides"
    assert [m["value"] for m in group["members"]] == [user["id"]]

    found = await people.client.get(
        f"{SCIM}/Groups", params={"filter": 'DisplayName eq "Tour Guides"'}, headers=auth
    )
    assert [g["id"] for g in found.json()["Resources"]] == [group["id"]]
    removed = await people.client.patch(
        f"{SCIM}/Groups/{group['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"Op": "Remove", "Path": f'Members[Value eq "{user["id"]}"]'}],
        },
        headers=auth,
    )
    assert removed.status_code == 204, removed.text
    after = await people.client.get(f"{SCIM}/Groups/{group['id']}", headers=auth)
    assert not after.json().get("members")
