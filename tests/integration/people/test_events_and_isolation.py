"""Every change publishes its events (readable by the cloudevents SDK); tenants are isolated."""

from __future__ import annotations

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

from shared.events import topics
from tests.integration.people.conftest import ENTERPRISE, GROUP, SCIM, People, patch, user_body
from tests.support import bearer, read_topic_to_end

pytestmark = pytest.mark.integration


async def test_every_change_publishes_cloudevents_ending_with_a_snapshot(people: People) -> None:
    client, auth = people.client, await people.scim_token("acme")
    boss = (
        await client.post(f"{SCIM}/Users", json=user_body("boss@acme.com"), headers=auth)
    ).json()
    other = (
        await client.post(f"{SCIM}/Users", json=user_body("other@acme.com"), headers=auth)
    ).json()
    ada = (
        await client.post(
            f"{SCIM}/Users",
            json=user_body("ada@acme.com", **{ENTERPRISE: {"manager": {"value": boss["id"]}}}),
            headers=auth,
        )
    ).json()
    await client.patch(
        f"{SCIM}/Users/{ada['id']}",
        json=patch(
            {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": other["id"]}},
            {"op": "replace", "path": "active", "value": False},
        ),
        headers=auth,
    )
    group = (
        await client.post(
            f"{SCIM}/Groups",
            json={"schemas": [GROUP], "displayName": "PMs", "members": [{"value": ada["id"]}]},
            headers=auth,
        )
    ).json()
    await client.delete(f"{SCIM}/Groups/{group['id']}", headers=auth)
    hr = bearer("acme", "hr-1", "hr_admin")
    mentorship = (
        await client.post(
            "/v1/mentorships",
            json={
                "mentor_id": boss["id"],
                "mentee_id": other["id"],
                "focus_skills": ["leadership"],
            },
            headers=hr,
        )
    ).json()
    await client.delete(f"/v1/mentorships/{mentorship['id']}", headers=hr)
    await people.drain()

    records = await read_topic_to_end(people.settings, topics.PEOPLE)
    events = [from_binary_event(KafkaMessage(dict(r.headers), r.key, r.value)) for r in records]
    of_ada = [e for e in events if e.get_subject() == ada["id"]]
    assert [e.get_type() for e in of_ada] == [
        "northstar.person.upserted.v1",
        "northstar.person.manager_changed.v1",
        "northstar.person.deactivated.v1",
        "northstar.person.upserted.v1",
    ]
    changed = of_ada[1].get_data()
    assert changed == {
        "id": ada["id"],
        "tenant": "acme",
        "old_manager_id": boss["id"],
        "new_manager_id": other["id"],
    }
    last = of_ada[-1].get_data()
    assert isinstance(last, dict)
    assert last["manager_id"] == other["id"]
    assert last["active"] is False
    assert last["user_name"] == "ada@acme.com"
    for event in events:
        assert event.get_extension("tenant") == "acme"
        assert event.get_source() == "northstar/people"
    by_key = {r.key.decode() for r in records}
    assert {ada["id"], group["id"], mentorship["id"]} <= by_key
    types = [e.get_type() for e in events]
    for expected in (
        "northstar.group.upserted.v1",
        "northstar.group.deleted.v1",
        "northstar.mentorship.started.v1",
        "northstar.mentorship.ended.v1",
    ):
        assert expected in types


async def test_a_tenant_never_reads_or_changes_another_tenants_people(people: People) -> None:
    client = people.client
    auth_a, auth_b = await people.scim_token("tenant-a"), await people.scim_token("tenant-b")
    bob = (await client.post(f"{SCIM}/Users", json=user_body("bob@b.com"), headers=auth_b)).json()
    team = (
        await client.post(
            f"{SCIM}/Groups", json={"schemas": [GROUP], "displayName": "B team"}, headers=auth_b
        )
    ).json()

    for method, url, body in [
        ("GET", f"{SCIM}/Users/{bob['id']}", None),
        ("PUT", f"{SCIM}/Users/{bob['id']}", user_body("stolen@a.com")),
        (
            "PATCH",
            f"{SCIM}/Users/{bob['id']}",
            patch({"op": "replace", "value": {"active": False}}),
        ),
        ("DELETE", f"{SCIM}/Users/{bob['id']}", None),
        ("GET", f"{SCIM}/Groups/{team['id']}", None),
        (
            "PATCH",
            f"{SCIM}/Groups/{team['id']}",
            patch({"op": "replace", "path": "displayName", "value": "x"}),
        ),
        ("DELETE", f"{SCIM}/Groups/{team['id']}", None),
    ]:
        response = await client.request(method, url, json=body, headers=auth_a)
        assert response.status_code == 404, (method, url, response.text)
    listed = await client.get(f'{SCIM}/Users?filter=userName eq "bob@b.com"', headers=auth_a)
    assert listed.json()["totalResults"] == 0
    # the same userName is free in another tenant
    mine = await client.post(f"{SCIM}/Users", json=user_body("bob@b.com"), headers=auth_a)
    assert mine.status_code == 201
    # tenant B's Bob is untouched
    still = await client.get(f"{SCIM}/Users/{bob['id']}", headers=auth_b)
    assert still.json()["active"] is True

    jwt_a = bearer("tenant-a", "someone", "admin")
    assert (await client.get(f"/v1/people/{bob['id']}", headers=jwt_a)).status_code == 404
    assert (await client.get(f"/v1/people/{bob['id']}/reports", headers=jwt_a)).status_code == 404
    directory = (await client.get("/v1/people?q=bob", headers=jwt_a)).json()
    assert [p["id"] for p in directory["items"]] == [mine.json()["id"]]
    moved = await client.put(
        f"/v1/people/{bob['id']}/manager", json={"manager_id": None}, headers=jwt_a
    )
    assert moved.status_code == 404
