"""A running people service on the real servers, isolated per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from services.people.config import PeopleSettings
from services.people.main import create_app
from tests.support import bearer, isolated_settings, running

SCIM = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class People:
    client: httpx.AsyncClient
    settings: PeopleSettings

    async def scim_token(self, tenant: str) -> dict[str, str]:
        response = await self.client.post(
            "/v1/scim-tokens", json={"name": "idp"}, headers=bearer(tenant, "admin-1", "admin")
        )
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    async def drain(self) -> None:
        await self.client._transport.app.state.outbox.drain()  # type: ignore[attr-defined]


@pytest.fixture
def settings() -> PeopleSettings:
    return isolated_settings(PeopleSettings)


@pytest.fixture
async def people(settings: PeopleSettings) -> AsyncIterator[People]:
    app = create_app(settings)
    async with running(app) as client:
        yield People(client, settings)


def user_body(user_name: str, **extra: object) -> dict[str, object]:
    return {"schemas": [USER], "userName": user_name, "active": True, **extra}


def patch(*operations: dict[str, object]) -> dict[str, object]:
    return {"schemas": [PATCH], "Operations": list(operations)}
