"""Who reads and who writes a goal: the matrix over visibility and relation to the owner.

Managers and mentors come from the people projection built from person.* and mentorship.*
events on the real broker, never from the token.
"""

from __future__ import annotations

import pytest

from tests.integration.goals.helpers import Running, goals_service

pytestmark = pytest.mark.integration

# caller → (tenant, roles)
CALLERS = {
    "owner": ("acme", ()),
    "manager": ("acme", ()),  # the owner's skip-level manager: the whole chain counts
    "mentor": ("acme", ()),
    "peer": ("acme", ()),
    "hr": ("acme", ("hr_admin",)),
    "stranger": ("globex", ("hr_admin",)),  # an HR admin of another tenant
}
# visibility → callers who may read
READERS = {
    "private": {"owner", "manager", "hr"},
    "team": {"owner", "manager", "hr", "mentor"},
    "company": {"owner", "manager", "hr", "mentor", "peer"},
}
WRITERS = {"owner"}


async def org_chart(svc: Running) -> None:
    await svc.person("manager")
    await svc.person("lead", manager="manager")
    await svc.person("owner", manager="lead")
    await svc.person("peer", manager="lead")
    await svc.person("mentor", manager="manager")
    await svc.person("hr")
    await svc.mentorship("mentor", "owner")
    await svc.projected("acme", "owner", manager="lead")

    async def mentored() -> bool:
        return await svc.app.state.goals.directory.mentors_of("acme", "owner") == ["mentor"]

    from tests.support import eventually

    await eventually(mentored, timeout=30)


def headers(svc: Running, caller: str) -> dict[str, str]:
    tenant, roles = CALLERS[caller]
    return svc.auth(caller if caller != "stranger" else "owner", *roles, tenant=tenant)


async def test_read_and_write_follow_visibility_and_the_org_chart() -> None:
    async with goals_service() as svc:
        await org_chart(svc)
        goals = {}
        for visibility in READERS:
            response = await svc.client.post(
                "/v1/goals",
                headers=headers(svc, "owner"),
                json={
                    "title": f"{visibility} goal",
                    "horizon": "short_term",
                    "visibility": visibility,
                },
            )
            assert response.status_code == 201, response.text
            goals[visibility] = response.json()["id"]

        outcomes: dict[tuple[str, str], tuple[int, int]] = {}
        for visibility, goal_id in goals.items():
            for caller in CALLERS:
                read = await svc.client.get(f"/v1/goals/{goal_id}", headers=headers(svc, caller))
                write = await svc.client.patch(
                    f"/v1/goals/{goal_id}",
                    headers=headers(svc, caller),
                    json={"description": f"edited by {caller}"},
                )
                outcomes[(visibility, caller)] = (read.status_code, write.status_code)

        expected = {}
        for visibility, readers in READERS.items():
            for caller in CALLERS:
                readable = caller in readers
                expected[(visibility, caller)] = (
                    200 if readable else 404,
                    200 if caller in WRITERS else (403 if readable else 404),
                )
        assert outcomes == expected

        # lists obey the same rules
        for caller, visible in {
            "peer": {"company"},
            "mentor": {"team", "company"},
            "manager": set(READERS),
            "hr": set(READERS),
            "stranger": set(),
        }.items():
            listed = await svc.client.get(
                "/v1/goals", params={"owner_id": "owner"}, headers=headers(svc, caller)
            )
            assert listed.status_code == 200
            titles = {g["title"].split()[0] for g in listed.json()["items"]}
            assert titles == visible, caller
            unfiltered = await svc.client.get("/v1/goals", headers=headers(svc, caller))
            titles = {g["title"].split()[0] for g in unfiltered.json()["items"]}
            assert titles == visible, caller

        # the summary is for the person, their managers and HR
        for caller, status in {
            "owner": 200,
            "manager": 200,
            "hr": 200,
            "mentor": 403,
            "peer": 403,
        }.items():
            response = await svc.client.get(
                "/v1/people/owner/goals/summary", headers=headers(svc, caller)
            )
            assert response.status_code == status, caller
        summary = (
            await svc.client.get("/v1/people/owner/goals/summary", headers=headers(svc, "manager"))
        ).json()
        assert len(summary["short_term"]) == 3


async def test_managers_and_hr_can_set_a_goal_for_someone_but_peers_cannot() -> None:
    async with goals_service() as svc:
        await org_chart(svc)
        body = {"title": "Lead the launch", "horizon": "long_term", "owner_id": "owner"}
        for caller, status in {"manager": 201, "hr": 201, "peer": 403, "mentor": 403}.items():
            response = await svc.client.post("/v1/goals", headers=headers(svc, caller), json=body)
            assert response.status_code == status, (caller, response.text)
