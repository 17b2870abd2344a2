"""What Okta and Microsoft Entra ID really send, replayed against the SCIM endpoint."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.people.conftest import ENTERPRISE, GROUP, SCIM, People, patch, user_body

pytestmark = pytest.mark.integration

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


async def test_okta_provisioning_sequence(people: People) -> None:
    client, auth = people.client, await people.scim_token("acme")

    # "Test connector configuration"
    probe = await client.get(f"{SCIM}/Users?startIndex=1&count=2", headers=auth)
    assert probe.status_code == 200
    assert probe.headers["content-type"].startswith("application/scim+json")
    assert probe.json()["totalResults"] == 0
    assert probe.json()["startIndex"] == 1
    assert probe.json()["Resources"] == []

    # lookup before create, then create
    lookup = await client.get(
        f'{SCIM}/Users?filter=userName eq "ada.lovelace@acme.com"&startIndex=1&count=100',
        headers=auth,
    )
    assert lookup.json()["totalResults"] == 0
    okta_user = user_body(
        "ada.lovelace@acme.com",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[{"primary": True, "value": "ada.lovelace@acme.com", "type": "work"}],
        displayName="Ada Lovelace",
        locale="en-GB",
        externalId="00u1abcd",
        groups=[],
        password="never-stored-1A!",
    )
    created = await client.post(f"{SCIM}/Users", json=okta_user, headers=auth)
    assert created.status_code == 201, created.text
    user = created.json()
    assert "password" not in user
    assert created.headers["location"].endswith(f"/Users/{user['id']}")

    # the same lookup now finds her, case-insensitively
    found = await client.get(
        f'{SCIM}/Users?filter=userName eq "ADA.LOVELACE@acme.com"', headers=auth
    )
    assert [r["id"] for r in found.json()["Resources"]] == [user["id"]]

    # a duplicate userName is 409 uniqueness in the SCIM error format
    duplicate = await client.post(f"{SCIM}/Users", json=okta_user, headers=auth)
    assert duplicate.status_code == 409
    assert duplicate.json()["schemas"] == [SCIM_ERROR]
    assert duplicate.json()["scimType"] == "uniqueness"

    # profile change by PUT
    okta_user["name"] = {"givenName": "Ada", "familyName": "King"}
    okta_user["title"] = "Principal PM"
    put = await client.put(f"{SCIM}/Users/{user['id']}", json=okta_user, headers=auth)
    assert put.status_code == 200, put.text
    assert put.json()["name"]["familyName"] == "King"
    assert put.json()["title"] == "Principal PM"

    # deactivation: replace without a path (Okta never deletes)
    deactivated = await client.patch(
        f"{SCIM}/Users/{user['id']}",
        json=patch({"op": "replace", "value": {"active": False}}),
        headers=auth,
    )
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["active"] is False
    person = await client.get(f"/v1/people/{user['id']}", headers=_jwt("acme"))
    assert person.json()["active"] is False
    assert person.json()["display_name"] == "Ada Lovelace"


def _jwt(tenant: str) -> dict[str, str]:
    from tests.support import bearer

    return bearer(tenant, "reader", "employee")


async def test_entra_provisioning_sequence(people: People) -> None:
    client, auth = people.client, await people.scim_token("contoso")

    # Entra's probe: a filter on a random GUID must be an empty list, not an error
    probe = await client.get(f'{SCIM}/Users?filter=userName eq "{uuid.uuid4()}"', headers=auth)
    assert probe.status_code == 200
    assert probe.json()["totalResults"] == 0
    assert probe.json()["Resources"] == []
    groups_probe = await client.get(
        f'{SCIM}/Groups?excludedAttributes=members&filter=displayName eq "{uuid.uuid4()}"',
        headers=auth,
    )
    assert groups_probe.status_code == 200
    assert groups_probe.json()["totalResults"] == 0

    manager = await client.post(
        f"{SCIM}/Users",
        json={
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            ],
            "externalId": "grace",
            "userName": "grace@contoso.com",
            "active": True,
            "displayName": "Grace Hopper",
            "emails": [{"primary": True, "type": "work", "value": "grace@contoso.com"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "Engineering",
                "employeeNumber": "1001",
            },
        },
        headers=auth,
    )
    assert manager.status_code == 201, manager.text
    manager_id = manager.json()["id"]
    report = await client.post(
        f"{SCIM}/Users",
        json={
            # Entra sometimes spells the enterprise URN with other casing
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:Enterprise:2.0:User",
            ],
            "externalId": "alan",
            "userName": "alan@contoso.com",
            "active": "True",
            "emails": [{"primary": True, "type": "work", "value": "alan@contoso.com"}],
            "urn:ietf:params:scim:schemas:extension:Enterprise:2.0:User": {
                "manager": manager_id,
                "department": "Engineering",
            },
        },
        headers=auth,
    )
    assert report.status_code == 201, report.text
    report_id = report.json()["id"]
    assert report.json()[ENTERPRISE]["manager"]["value"] == manager_id

    by_external = await client.get(f'{SCIM}/Users?filter=externalId eq "alan"', headers=auth)
    assert [r["id"] for r in by_external.json()["Resources"]] == [report_id]

    # capitalised ops, "False" as a string, manager as {"value": ...}, a value-path replace
    updated = await client.patch(
        f"{SCIM}/Users/{report_id}",
        json=patch(
            {"op": "Replace", "path": "displayName", "value": "Alan Turing"},
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "alan.t@contoso.com"},
            {
                "op": "Replace",
                "path": f"{ENTERPRISE}:manager",
                "value": {"value": manager_id},
            },
            {
                "op": "Replace",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "value": "Research",
            },
        ),
        headers=auth,
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["displayName"] == "Alan Turing"
    assert body["emails"][0]["value"] == "alan.t@contoso.com"
    assert body[ENTERPRISE]["department"] == "Research"
    by_email = await client.get(
        f'{SCIM}/Users?filter=emails[type eq "work"].value eq "alan.t@contoso.com"', headers=auth
    )
    assert [r["id"] for r in by_email.json()["Resources"]] == [report_id]

    # groups: create, add members, remove members with a value list (answered 204)
    group = await client.post(
        f"{SCIM}/Groups",
        json={"schemas": [GROUP], "displayName": "PM Guild", "externalId": "g-1", "members": []},
        headers=auth,
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    added = await client.patch(
        f"{SCIM}/Groups/{group_id}",
        json=patch(
            {
                "op": "Add",
                "path": "members",
                "value": [{"value": manager_id}, {"value": report_id}],
            }
        ),
        headers=auth,
    )
    assert added.status_code == 204, added.text
    removed = await client.patch(
        f"{SCIM}/Groups/{group_id}",
        json=patch({"op": "Remove", "path": "members", "value": [{"value": manager_id}]}),
        headers=auth,
    )
    assert removed.status_code == 204, removed.text
    members = await client.get(f"{SCIM}/Groups/{group_id}", headers=auth)
    assert [m["value"] for m in members.json()["members"]] == [report_id]
    user_groups = await client.get(f"{SCIM}/Users/{report_id}", headers=auth)
    assert [g["value"] for g in user_groups.json()["groups"]] == [group_id]

    # deactivation with "False" as a string, then Entra's hard delete
    off = await client.patch(
        f"{SCIM}/Users/{report_id}",
        json=patch({"op": "Replace", "path": "active", "value": "False"}),
        headers=auth,
    )
    assert off.status_code == 200, off.text
    assert off.json()["active"] is False
    # a bare-string manager removal clears the manager
    cleared = await client.patch(
        f"{SCIM}/Users/{report_id}",
        json=patch({"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""}),
        headers=auth,
    )
    assert cleared.status_code == 200, cleared.text
    assert "manager" not in cleared.json().get(ENTERPRISE, {})
    deleted = await client.delete(f"{SCIM}/Users/{report_id}", headers=auth)
    assert deleted.status_code == 204
    gone = await client.get(f"{SCIM}/Users/{report_id}", headers=auth)
    assert gone.status_code == 404
    assert gone.json()["schemas"] == [SCIM_ERROR]
    # the userName is free again
    again = await client.post(f"{SCIM}/Users", json=user_body("alan@contoso.com"), headers=auth)
    assert again.status_code == 201, again.text


async def test_filters_pagination_and_attribute_selection(people: People) -> None:
    client, auth = people.client, await people.scim_token("acme")
    for n in range(5):
        response = await client.post(
            f"{SCIM}/Users",
            json=user_body(
                f"user{n}@acme.com",
                displayName=f"User {n}",
                active=n % 2 == 0,
                emails=[{"value": f"user{n}@acme.com", "type": "work", "primary": True}],
            ),
            headers=auth,
        )
        assert response.status_code == 201

    async def ids(query: str) -> list[str]:
        response = await client.get(f"{SCIM}/Users?{query}", headers=auth)
        assert response.status_code == 200, response.text
        return [r["userName"] for r in response.json()["Resources"]]

    assert await ids('filter=userName sw "user1"') == ["user1@acme.com"]
    assert await ids('filter=displayName co "ser 3"') == ["user3@acme.com"]
    assert len(await ids('filter=userName ne "user0@acme.com"')) == 4
    assert await ids("filter=active eq false") == ["user1@acme.com", "user3@acme.com"]
    assert await ids('filter=userName eq "user1@acme.com" or userName eq "user2@acme.com"') == [
        "user1@acme.com",
        "user2@acme.com",
    ]
    assert await ids('filter=active eq true and displayName sw "User 4"') == ["user4@acme.com"]
    assert len(await ids("filter=emails pr")) == 5
    assert len(await ids('filter=not (userName sw "user")')) == 0

    page = await client.get(f"{SCIM}/Users?startIndex=2&count=2", headers=auth)
    assert page.json()["totalResults"] == 5
    assert page.json()["startIndex"] == 2
    assert [r["userName"] for r in page.json()["Resources"]] == ["user1@acme.com", "user2@acme.com"]
    empty = await client.get(f"{SCIM}/Users?count=0", headers=auth)
    assert empty.json()["totalResults"] == 5
    assert empty.json()["Resources"] == []
    assert empty.json()["itemsPerPage"] == 0

    slim = await client.get(f"{SCIM}/Users?attributes=userName&count=1", headers=auth)
    assert set(slim.json()["Resources"][0]) == {"schemas", "id", "userName"}
    without = await client.get(f"{SCIM}/Users?excludedAttributes=emails&count=1", headers=auth)
    assert "emails" not in without.json()["Resources"][0]

    bad = await client.get(f"{SCIM}/Users?filter=userName eq", headers=auth)
    assert bad.status_code == 400
    assert bad.json()["scimType"] == "invalidFilter"


async def test_scim_needs_a_live_token_and_answers_in_scim_errors(people: People) -> None:
    client = people.client
    assert (await client.get(f"{SCIM}/Users")).status_code == 401
    wrong = await client.get(f"{SCIM}/Users", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["schemas"] == [SCIM_ERROR]
    assert wrong.json()["status"] == "401"

    from tests.support import bearer

    admin = bearer("acme", "admin-1", "admin")
    created = (await client.post("/v1/scim-tokens", json={}, headers=admin)).json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    assert (await client.get(f"{SCIM}/Users", headers=auth)).status_code == 200
    listed = (await client.get("/v1/scim-tokens", headers=admin)).json()
    assert listed["next_cursor"] is None
    assert [t["token_id"] for t in listed["items"]] == [created["token_id"]]
    assert "token" not in listed["items"][0]
    revoked = await client.delete(f"/v1/scim-tokens/{created['token_id']}", headers=admin)
    assert revoked.status_code == 204
    assert (await client.get(f"{SCIM}/Users", headers=auth)).status_code == 401

    employee = bearer("acme", "p-1", "employee")
    forbidden = await client.post("/v1/scim-tokens", json={}, headers=employee)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")
