"""API keys on the real broker and store: the people service issues them and answers
introspection over HTTP (served on a port), kpi_ingest and goals check them there. A key acts
as itself (audited as ``api_key`` with its id), only within its scopes and its tenant, and stops
working once revoked (after the services' short cache) or expired."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from deploy.local.servers import free_port
from services.goals.config import GoalsSettings
from services.goals.main import create_app as goals_app
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app as ingest_app
from services.people.config import PeopleSettings
from services.people.main import create_app as people_app
from shared.events import topics
from tests.integration.kpi_ingest.wire import served
from tests.support import bearer, eventually, isolated_settings, published, running, unique

pytestmark = pytest.mark.integration

CACHE_TTL_S = 0.5


@dataclass
class Stack:
    tenant: str
    people: httpx.AsyncClient
    ingest: httpx.AsyncClient
    goals: httpx.AsyncClient
    ingest_app: Any
    people_app: Any
    run_id: str
    people_port: int

    @property
    def admin(self) -> dict[str, str]:
        return bearer(self.tenant, "adm", "admin")

    async def key(self, *scopes: str, **body: Any) -> dict[str, Any]:
        created = await self.people.post(
            "/v1/api-keys",
            json={"name": f"integration {' '.join(scopes)}", "scopes": list(scopes), **body},
            headers=self.admin,
        )
        assert created.status_code == 201, created.text
        return dict(created.json())


def auth(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}"}


@asynccontextmanager
async def stack() -> AsyncIterator[Stack]:
    run_id, tenant = unique(), unique("acme-")
    fast = {"api_keys_cache_ttl_s": CACHE_TTL_S}
    people_service = people_app(isolated_settings(PeopleSettings, run_id, **fast))
    async with running(people_service) as people, served(people_service) as port:
        url = {"api_keys_url": f"http://127.0.0.1:{port}", **fast}
        ingest_service = ingest_app(isolated_settings(KpiIngestSettings, run_id, **url))
        goals_service = goals_app(
            isolated_settings(GoalsSettings, run_id, scheduler_enabled=False, **url)
        )
        async with running(ingest_service) as ingest, running(goals_service) as goals:
            yield Stack(tenant, people, ingest, goals, ingest_service, people_service, run_id, port)


async def test_a_key_writes_within_its_scope_and_is_audited_as_itself() -> None:
    async with stack() as s:
        writer = await s.key("kpi:write", "kpi:read")
        created = await s.ingest.post(
            "/v1/sources", json={"name": "from a script", "format": "generic"}, headers=auth(writer)
        )
        assert created.status_code == 201, created.text
        source_id = created.json()["id"]
        listed = await s.ingest.get("/v1/sources", headers=auth(writer))
        assert listed.status_code == 200
        assert [x["id"] for x in listed.json()["items"]] == [source_id]

        # exactly one audit record of the creation, published by kpi_ingest, with the key as actor
        records = await published(
            s.ingest_app,
            topics.AUDIT,
            lambda rs: len(rs) >= 1,
            keep=lambda r: b"kpi_source.created" in r.value,
        )
        payloads = {p["id"]: p for p in (orjson.loads(r.value) for r in records)}
        assert len(payloads) == 1
        (record,) = payloads.values()
        assert (record["actor_type"], record["actor_id"]) == ("api_key", writer["key_id"])
        assert record["actor_roles"] == ["integration"]
        assert record["object_id"] == source_id

        # ... and the read model shows it once, searchable by the key id
        async def in_read_model() -> list[dict[str, Any]]:
            found = await s.people.get(
                "/v1/audit",
                params={"actor": writer["key_id"], "action": "kpi_source.created"},
                headers=s.admin,
            )
            assert found.status_code == 200, found.text
            return list(found.json()["items"])

        (seen,) = await eventually(in_read_model, timeout=30)
        assert seen["actor"] == {
            "type": "api_key",
            "id": writer["key_id"],
            "roles": ["integration"],
        }
        assert seen["object"] == {"type": "kpi_source", "id": source_id}

        # the key was used: its last use is recorded, and the key itself is never shown again
        keys = await s.people.get("/v1/api-keys", headers=s.admin)
        assert keys.status_code == 200
        assert writer["key"] not in keys.text
        (item,) = [k for k in keys.json()["items"] if k["key_id"] == writer["key_id"]]
        assert set(item) == {
            "key_id",
            "name",
            "scopes",
            "created_at",
            "created_by",
            "expires_at",
            "last_used_at",
            "revoked_at",
        }
        assert item["last_used_at"] is not None
        assert item["scopes"] == ["kpi:read", "kpi:write"]
        assert item["created_by"] == "adm"


async def test_a_key_without_the_scope_is_forbidden() -> None:
    async with stack() as s:
        goals_reader = await s.key("goals:read")
        people_reader = await s.key("people:read")
        kpi_reader = await s.key("kpi:read")
        auditor = await s.key("audit:read")
        refusals = [
            (s.ingest.get("/v1/sources", headers=auth(goals_reader))),
            (s.ingest.post("/v1/sources", json={"name": "x"}, headers=auth(kpi_reader))),
            (s.people.get("/v1/audit", headers=auth(people_reader))),
            (s.people.get("/v1/audit.csv", headers=auth(people_reader))),
            (s.goals.get("/v1/goals", headers=auth(people_reader))),
            # a scope reads: no key writes goals, changes audit settings or manages keys
            (s.goals.post("/v1/goals", json={"title": "x"}, headers=auth(goals_reader))),
            (s.people.get("/v1/audit-settings", headers=auth(auditor))),
            (s.people.get("/v1/scim-tokens", headers=auth(people_reader))),
            (s.people.get("/v1/api-keys", headers=auth(people_reader))),
            (s.people.post("/v1/mentorships", json={}, headers=auth(people_reader))),
        ]
        for call in refusals:
            refused = await call
            assert refused.status_code == 403, (refused.request.url, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
        nothing = await s.ingest.get("/v1/sources", headers=s.admin)
        assert nothing.json()["items"] == []

        # within their scopes they read
        directory = await s.people.get("/v1/people", headers=auth(people_reader))
        assert directory.status_code == 200, directory.text
        metrics = await s.ingest.get("/v1/metrics", headers=auth(kpi_reader))
        assert metrics.status_code == 200, metrics.text

        # the read model is fed through Kafka: wait for the four keys' issue records
        async def issued(path: str) -> str | None:
            trail = await s.people.get(path, headers=auth(auditor))
            assert trail.status_code == 200, trail.text
            return trail.text if trail.text.count("api_key.issued") == 4 else None

        found = await eventually(lambda: issued("/v1/audit"), timeout=30)
        assert {r["actor"]["type"] for r in orjson.loads(found)["items"]} == {"person"}
        await eventually(lambda: issued("/v1/audit.csv"), timeout=30)


async def test_a_goals_key_reads_its_tenant_and_only_its_tenant() -> None:
    async with stack() as s:
        other = unique("globex-")
        mine = await s.goals.post(
            "/v1/goals",
            json={"title": "Private", "horizon": "short_term", "visibility": "private"},
            headers=bearer(s.tenant, "pm"),
        )
        assert mine.status_code == 201, mine.text
        theirs = await s.goals.post(
            "/v1/goals",
            json={"title": "Theirs", "horizon": "short_term", "visibility": "company"},
            headers=bearer(other, "pm"),
        )
        assert theirs.status_code == 201, theirs.text
        reader = await s.key("goals:read")
        listed = await s.goals.get("/v1/goals", headers=auth(reader))
        assert listed.status_code == 200, listed.text
        assert [g["id"] for g in listed.json()["items"]] == [mine.json()["id"]]
        one = await s.goals.get(f"/v1/goals/{mine.json()['id']}", headers=auth(reader))
        assert one.status_code == 200
        summary = await s.goals.get("/v1/people/pm/goals/summary", headers=auth(reader))
        assert summary.status_code == 200, summary.text
        foreign = await s.goals.get(f"/v1/goals/{theirs.json()['id']}", headers=auth(reader))
        assert foreign.status_code == 404
        # the key cannot be seen, nor revoked, by another tenant's admin
        admin_elsewhere = bearer(other, "adm", "admin")
        keys = await s.people.get("/v1/api-keys", headers=admin_elsewhere)
        assert keys.json()["items"] == []
        revoked = await s.people.delete(f"/v1/api-keys/{reader['key_id']}", headers=admin_elsewhere)
        assert revoked.status_code == 404
        still = await s.goals.get("/v1/goals", headers=auth(reader))
        assert still.status_code == 200


async def test_a_revoked_or_expired_key_is_refused() -> None:
    async with stack() as s:
        key = await s.key("kpi:read")
        assert (await s.ingest.get("/v1/sources", headers=auth(key))).status_code == 200
        for _ in range(2):  # revoking again changes nothing
            revoked = await s.people.delete(f"/v1/api-keys/{key['key_id']}", headers=s.admin)
            assert revoked.status_code == 204
        await asyncio.sleep(CACHE_TTL_S)  # the services' cache
        refused = await s.ingest.get("/v1/sources", headers=auth(key))
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        listed = (await s.people.get("/v1/api-keys", headers=s.admin)).json()["items"]
        assert [k["revoked_at"] is not None for k in listed] == [True]
        revocations = await published(
            s.people_app,
            topics.AUDIT,
            lambda rs: len(rs) >= 1,
            keep=lambda r: b"api_key.revoked" in r.value,
        )
        assert len({dict(r.headers)["ce_id"] for r in revocations}) == 1

        soon = datetime.now(UTC) + timedelta(seconds=2)
        brief = await s.key("kpi:read", expires_at=soon.isoformat())
        assert (await s.ingest.get("/v1/sources", headers=auth(brief))).status_code == 200
        await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.1)
        expired = await s.ingest.get("/v1/sources", headers=auth(brief))
        assert expired.status_code == 401, expired.text

        made_up = {"Authorization": "Bearer nsk_0123456789ab_" + "x" * 43}
        assert (await s.ingest.get("/v1/sources", headers=made_up)).status_code == 401


async def test_bad_keys_requests_are_problems_and_write_nothing() -> None:
    async with stack() as s:
        now = datetime.now(UTC)
        bad = [
            {"name": "x", "scopes": ["kpi:admin"]},
            {"name": "x", "scopes": []},
            {"name": "", "scopes": ["kpi:read"]},
            {
                "name": "x",
                "scopes": ["kpi:read"],
                "expires_at": (now - timedelta(days=1)).isoformat(),
            },
            {
                "name": "x",
                "scopes": ["kpi:read"],
                "expires_at": (now + timedelta(days=400)).isoformat(),
            },
            {"name": "x", "scopes": ["kpi:read"], "expires_at": "2030-01-01T00:00:00"},
        ]
        for body in bad:
            refused = await s.people.post("/v1/api-keys", json=body, headers=s.admin)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
        employee = await s.people.post(
            "/v1/api-keys",
            json={"name": "x", "scopes": ["kpi:read"]},
            headers=bearer(s.tenant, "e"),
        )
        assert employee.status_code == 403
        assert (await s.people.get("/v1/api-keys", headers=s.admin)).json()["items"] == []
        default = await s.key("kpi:read")
        expires = datetime.fromisoformat(default["expires_at"])
        assert timedelta(days=89) < expires - now < timedelta(days=91)
        # introspection is for the services only
        denied = await s.people.post(
            "/v1/api-keys/introspect", json={"token": default["key"]}, headers=s.admin
        )
        assert denied.status_code == 401


async def test_a_key_is_503_while_the_people_service_is_down() -> None:
    run_id, tenant = unique(), unique("acme-")
    nowhere = {"api_keys_url": f"http://127.0.0.1:{free_port()}"}
    async with running(ingest_app(isolated_settings(KpiIngestSettings, run_id, **nowhere))) as c:
        key = {"Authorization": "Bearer nsk_0123456789ab_" + "x" * 43}
        down = await c.get("/v1/sources", headers=key)
        assert down.status_code == 503, down.text
        assert down.headers["content-type"] == "application/problem+json"
        # a person's token does not need the people service
        ok = await c.get("/v1/sources", headers=bearer(tenant, "adm", "admin"))
        assert ok.status_code == 200
