"""The audit trail on the real stack: people's own actions, the read model, its API and CSV,
tenant isolation, roles, and the retention purge."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from services.people.audit import AuditRecords, AuditRetention
from services.people.config import PeopleSettings
from shared.events import topics
from shared.events.audit import AuditRecorded
from tests.integration.people.conftest import ENTERPRISE, SCIM, People, patch, user_body
from tests.support import bearer, eventually, isolated_settings, published

pytestmark = pytest.mark.integration


@pytest.fixture
def settings() -> PeopleSettings:
    # the purge runs when the test says (the service's own loop would take the lease first)
    return isolated_settings(PeopleSettings, audit_purge_enabled=False)


ADMIN = bearer("acme", "admin-1", "admin")
HR = bearer("acme", "hr-1", "hr_admin")


def app_of(people: People) -> Any:
    return people.client._transport.app  # type: ignore[attr-defined]


async def audited(people: People, expected: int) -> list[dict[str, Any]]:
    """Every audit record the service published (once its outbox is empty), after the read
    model holds as many: the topic is the evidence that nothing more was recorded."""
    records = await published(
        app_of(people), topics.AUDIT, lambda records: len(records) >= expected, timeout=60
    )
    payloads = [orjson.loads(r.value) for r in records]

    async def stored() -> bool:
        count = await app_of(people).state.audit_records.records.count_documents({})
        return bool(count >= len(payloads))

    await eventually(stored)
    return payloads


async def search(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> Any:
    response = await client.get("/v1/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_each_people_action_yields_exactly_one_record_with_its_actor(
    people: People,
) -> None:
    client = people.client
    created = await client.post("/v1/scim-tokens", json={"name": "okta"}, headers=ADMIN)
    token_id = created.json()["token_id"]
    scim = {"Authorization": f"Bearer {created.json()['token']}"}
    boss, other, ada = [
        (await client.post(f"{SCIM}/Users", json=user_body(name), headers=scim)).json()
        for name in ("boss@acme.com", "o@acme.com", "ada@acme.com")
    ]
    # SCIM: a manager change and a deactivation in one PATCH are two actions of the token
    response = await client.patch(
        f"{SCIM}/Users/{ada['id']}",
        json=patch(
            {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": boss["id"]}},
            {"op": "replace", "path": "active", "value": False},
        ),
        headers=scim,
    )
    assert response.status_code == 200, response.text
    # the people API: HR moves and deactivates someone; repeating the deactivation is no action
    moved = await client.put(
        f"/v1/people/{other['id']}/manager", json={"manager_id": boss["id"]}, headers=HR
    )
    assert moved.status_code == 200, moved.text
    for _ in range(2):
        done = await client.post(f"/v1/people/{other['id']}/deactivate", headers=HR)
        assert done.status_code == 200, done.text
    # a field that is not audited (the title) changes nothing in the trail
    await client.patch(
        f"{SCIM}/Users/{boss['id']}",
        json=patch({"op": "replace", "path": "title", "value": "CTO"}),
        headers=scim,
    )
    # an import: one record with its diff summary, none per person it changes
    export = "employee_id,email,first_name,last_name\nE1,e1@acme.com,E,One\nE2,e2@acme.com,E,Two\n"
    # it deactivates the boss (missing from the export): covered by the import's record
    imported = await client.post(
        "/v1/imports?force=true", json={"format": "csv", "csv": export}, headers=HR
    )
    assert imported.status_code == 200, imported.text
    dry = await client.post(
        "/v1/imports?dry_run=true&force=true", json={"format": "csv", "csv": export}, headers=HR
    )
    assert dry.status_code == 200  # a dry run changes nothing and records nothing
    # SCIM DELETE: the person leaves every read, recorded as removed by the token
    removed = await client.delete(f"{SCIM}/Users/{other['id']}", headers=scim)
    assert removed.status_code == 204, removed.text
    assert (await client.delete(f"/v1/scim-tokens/{token_id}", headers=ADMIN)).status_code == 204
    assert (await client.delete(f"/v1/scim-tokens/{token_id}", headers=ADMIN)).status_code == 404

    payloads = await audited(people, 8)
    actions = sorted(
        (p["action"], p["object_id"], p["actor_type"], p["actor_id"]) for p in payloads
    )
    import_id = next(p["object_id"] for p in payloads if p["action"] == "people_import.applied")
    assert actions == sorted(
        [
            ("scim_token.issued", token_id, "person", "admin-1"),
            ("person.manager_changed", ada["id"], "scim_token", token_id),
            ("person.deactivated", ada["id"], "scim_token", token_id),
            ("person.manager_changed", other["id"], "person", "hr-1"),
            ("person.deactivated", other["id"], "person", "hr-1"),
            ("person.deleted", other["id"], "scim_token", token_id),
            ("people_import.applied", import_id, "person", "hr-1"),
            ("scim_token.revoked", token_id, "person", "admin-1"),
        ]
    )

    # the read model answers the same, newest first, with before/after and the request id
    page = await search(client, HR, object_id=ada["id"], action="person.manager_changed")
    [record] = page["items"]
    assert record["before"] == {"manager_id": None}
    assert record["after"] == {"manager_id": boss["id"]}
    assert record["actor"] == {"type": "scim_token", "id": token_id, "roles": []}
    assert record["request_id"]
    assert record["trace_id"]
    by_hr = await search(client, HR, actor="hr-1")
    assert {r["action"] for r in by_hr["items"]} == {
        "person.manager_changed",
        "person.deactivated",
        "people_import.applied",
    }
    [run] = (await search(client, HR, object_type="people_import"))["items"]
    assert run["details"]["summary"]["created"] == 2
    assert run["details"]["summary"]["deactivated"] == 1
    assert run["details"]["deactivated_ids"] == [boss["id"]]
    assert len(run["details"]["created_ids"]) == 2
    assert run["actor"]["roles"] == ["hr_admin"]


async def test_search_pages_filters_by_time_and_exports_csv(people: People) -> None:
    client = people.client
    records: AuditRecords = app_of(people).state.audit_records
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(5):
        await records.add(record("acme", f"r{i}", start + timedelta(hours=i), actor="hr-9"))
    await records.add(record("acme", "formula", start, actor="=cmd()", action="x.done"))

    first = await search(client, HR, actor="hr-9", limit="2")
    second = await search(client, HR, actor="hr-9", limit="2", cursor=first["next_cursor"])
    third = await search(client, HR, actor="hr-9", limit="2", cursor=second["next_cursor"])
    ids = [r["id"] for page in (first, second, third) for r in page["items"]]
    assert ids == ["r4", "r3", "r2", "r1", "r0"]
    assert third["next_cursor"] is None
    window = await search(
        client,
        HR,
        **{"from": (start + timedelta(hours=1)).isoformat(), "to": "2026-01-01T03:00:00Z"},
    )
    assert [r["id"] for r in window["items"]] == ["r2", "r1"]
    bad = await client.get("/v1/audit", params={"cursor": "nonsense!"}, headers=HR)
    assert bad.status_code == 422
    nul = await client.get("/v1/audit.csv", params={"actor": "a\x00b"}, headers=HR)
    assert nul.status_code == 422
    backwards = await client.get(
        "/v1/audit",
        params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=HR,
    )
    assert backwards.status_code == 422
    assert backwards.json()["type"].endswith("/rule-not-met")
    for not_a_time in ("0.5", "2026-01-01", "2026-01-01T00:00:00"):
        refused = await client.get("/v1/audit", params={"to": not_a_time}, headers=HR)
        assert refused.status_code == 422, not_a_time

    exported = await client.get("/v1/audit.csv", params={"actor": "hr-9"}, headers=ADMIN)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["id"] for r in rows] == ["r4", "r3", "r2", "r1", "r0"]
    assert rows[0]["action"] == "goal.changed"
    assert rows[0]["at"] == "2026-01-01T04:00:00Z"
    assert orjson.loads(rows[0]["after"]) == {"name": "new"}
    everything = await client.get("/v1/audit.csv", headers=HR)
    formula = next(r for r in csv.DictReader(io.StringIO(everything.text)) if r["id"] == "formula")
    assert formula["actor_id"] == "'=cmd()"  # a spreadsheet shows it, never runs it


async def test_other_tenants_and_non_admins_see_nothing(people: People) -> None:
    client = people.client
    records: AuditRecords = app_of(people).state.audit_records
    await records.add(record("acme", "mine", datetime.now(UTC)))
    other = bearer("globex", "hr-2", "hr_admin")
    assert (await search(client, other))["items"] == []
    assert (await search(client, other, object_id="goal-1"))["items"] == []
    csv_text = (await client.get("/v1/audit.csv", headers=other)).text
    assert "mine" not in csv_text
    assert [r["id"] for r in (await search(client, HR))["items"]] == ["mine"]
    employee = bearer("acme", "emp-1", "employee")
    for path in ("/v1/audit", "/v1/audit.csv", "/v1/audit-settings"):
        response = await client.get(path, headers=employee)
        assert response.status_code == 403, path
        assert response.headers["content-type"] == "application/problem+json"
    put = await client.put("/v1/audit-settings", json={"retention_days": 1}, headers=employee)
    assert put.status_code == 403
    assert (await client.get("/v1/audit-settings", headers=HR)).json() == {"retention_days": 365}


async def test_a_redelivered_record_is_stored_once(people: People) -> None:
    records: AuditRecords = app_of(people).state.audit_records
    payload = record("acme", "same", datetime.now(UTC))
    assert await records.add(payload)
    assert not await records.add(payload)
    assert await records.records.count_documents({"_id": "same"}) == 1


async def test_retention_purges_only_records_older_than_the_tenants_setting(
    people: People,
) -> None:
    client = people.client
    records: AuditRecords = app_of(people).state.audit_records
    now = datetime.now(UTC)
    await records.add(record("acme", "old", now - timedelta(days=40)))
    await records.add(record("acme", "recent", now - timedelta(days=20)))
    await records.add(record("globex", "globex-old", now - timedelta(days=40)))
    bad = await client.put("/v1/audit-settings", json={"retention_days": 0}, headers=HR)
    assert bad.status_code == 422
    put = await client.put("/v1/audit-settings", json={"retention_days": 30}, headers=HR)
    assert put.status_code == 200
    assert put.json() == {"retention_days": 30}

    retention = AuditRetention(records, "holder-a", lease_ttl_s=60)
    rival = AuditRetention(records, "holder-b", lease_ttl_s=60)
    assert await retention.round(now) == 1
    assert await rival.round(now) is None  # the lease keeps a second replica out
    left = {doc["_id"] async for doc in records.records.find({}, {"_id": 1})}
    # globex keeps the default 365 days; the retention change is itself recorded
    assert {"recent", "globex-old"} <= left
    assert "old" not in left
    payloads = await audited(people, 1)
    assert [(p["action"], p["before"], p["after"]) for p in payloads] == [
        ("audit_settings.changed", {"retention_days": 365}, {"retention_days": 30})
    ]


def record(
    tenant: str,
    record_id: str,
    at: datetime,
    *,
    actor: str = "hr-1",
    action: str = "goal.changed",
) -> AuditRecorded:
    return AuditRecorded(
        id=record_id,
        tenant=tenant,
        service="goals",
        action=action,
        actor_type="person",
        actor_id=actor,
        actor_roles=["hr_admin"],
        object_type="goal",
        object_id="goal-1",
        at=at,
        before={"name": "old"},
        after={"name": "new"},
    )
