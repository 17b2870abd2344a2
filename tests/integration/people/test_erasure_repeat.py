"""An erasure interrupted after its marker is written is finished by a repeat, which publishes
nothing twice (the people service alone, on the real servers)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from services.people.config import PeopleSettings
from services.people.main import create_app
from shared.events import topics
from shared.events.codec import from_record
from tests.integration.people.conftest import USER
from tests.support import bearer, isolated_settings, published, running, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


class Crash(Exception):
    pass


async def _person(client: Any, scim: dict[str, str], name: str) -> str:
    response = await client.post(
        "/scim/v2/Users",
        json={"schemas": [USER], "userName": f"{name}@example.com", "active": True},
        headers=scim,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_a_repeat_finishes_an_interrupted_erasure_and_publishes_nothing_twice() -> None:
    settings = isolated_settings(PeopleSettings, consumers_enabled=False)
    app: FastAPI = create_app(settings)
    tenant = unique("t-")
    hr = bearer(tenant, "hr", "hr_admin")
    async with running(app) as client:
        token = await client.post(
            "/v1/scim-tokens", json={"name": "idp"}, headers=bearer(tenant, "it", "admin")
        )
        scim = {"Authorization": f"Bearer {token.json()['token']}"}
        mentor = await _person(client, scim, unique("mentor-"))
        mentee = await _person(client, scim, unique("mentee-"))
        paired = await client.post(
            "/v1/mentorships", json={"mentor_id": mentor, "mentee_id": mentee}, headers=hr
        )
        assert paired.status_code == 201, paired.text
        records = app.state.erasures.records
        delete = records.delete_mentorships

        async def crash(*args: object) -> None:
            raise Crash  # the process dies after the marker, before the clean-up

        records.delete_mentorships = crash
        with pytest.raises(Crash):
            await app.state.erasures.erase(tenant, mentee, by="hr")
        assert await records.mentorship_ids(tenant, mentee), "the clean-up did not run"
        records.delete_mentorships = delete

        again = await client.post(f"/v1/people/{mentee}/erasure", headers=hr)
        assert again.status_code == 202, again.text
        assert await records.mentorship_ids(tenant, mentee) == []
        mentees = await client.get(f"/v1/people/{mentor}/mentees", headers=hr)
        assert mentees.json()["items"] == []

        def about_mentee(record: Any) -> bool:
            return record.key == mentee.encode()

        found = await published(app, topics.PEOPLE, keep=about_mentee)
        kinds = [
            "tombstone" if r.value is None else from_record(r.value, r.headers).type for r in found
        ]
        assert kinds.count("northstar.person.erased.v1") == 1
        assert kinds.count("tombstone") == 1
        assert kinds[-1] == "tombstone", "the person's last record is the tombstone"
