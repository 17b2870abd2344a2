"""The audit trail across services on the real broker and store: KPI sources, webhook
subscriptions, notification locks, an import, and a goal set and reviewed by a manager are each
recorded once, with their actor, by the service that did them, and land in the people service's
read model, which only the tenant's HR and admins can search."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from services.goals.config import GoalsSettings
from services.goals.main import create_app as goals_app
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app as ingest_app
from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app as notifications_app
from services.people.config import PeopleSettings
from services.people.main import create_app as people_app
from shared.directory import PeopleDirectory
from shared.events import topics
from tests.integration.notifications.receivers import free_port
from tests.support import bearer, eventually, isolated_settings, published, running, unique

pytestmark = pytest.mark.integration


async def recorded(app: FastAPI, service: str, expected: int) -> list[dict[str, Any]]:
    """The audit records ``app`` published, once its outbox is empty: nothing more to come."""
    source = f"northstar/{service}".encode()
    records = await published(
        app,
        topics.AUDIT,
        lambda rs: len({dict(r.headers)["ce_id"] for r in rs}) >= expected,
        keep=lambda record: dict(record.headers)["ce_source"] == source,
        timeout=60,  # four services on a shared machine: reading a topic can take seconds
    )
    # at least once: a record carried over from a deleted document may also have been relayed
    # from it; one record id is one record (the read model keeps it once)
    unique_records = {p["id"]: p for p in (orjson.loads(r.value) for r in records)}
    return list(unique_records.values())


async def test_each_services_actions_reach_the_read_model_once_with_their_actor() -> None:
    run_id, tenant = unique(), unique("acme-")
    port = free_port()
    settings = {
        "people": isolated_settings(PeopleSettings, run_id),
        "goals": isolated_settings(GoalsSettings, run_id, scheduler_enabled=False),
        "ingest": isolated_settings(KpiIngestSettings, run_id),
        "notifications": isolated_settings(
            NotificationsSettings, run_id, outbound_allow_list=[f"127.0.0.1:{port}"]
        ),
    }
    admin = bearer(tenant, "adm", "admin")
    hr = bearer(tenant, "hr-1", "hr_admin")
    async with (
        running(people_service := people_app(settings["people"])) as people,
        running(goals_service := goals_app(settings["goals"])) as goals,
        running(ingest_service := ingest_app(settings["ingest"])) as ingest,
        running(notify_service := notifications_app(settings["notifications"])) as notifications,
    ):
        # kpi_ingest: a source is created, then its secret rotated
        source = await ingest.post(
            "/v1/sources", json={"name": "web", "format": "generic"}, headers=admin
        )
        assert source.status_code == 201, source.text
        source_id = source.json()["id"]
        rotated = await ingest.post(f"/v1/sources/{source_id}/rotate-secret", headers=admin)
        assert rotated.status_code == 200, rotated.text
        # one removed at once: its creation's record, still in its document, is carried over
        brief = await ingest.post(
            "/v1/sources", json={"name": "tmp", "format": "generic"}, headers=admin
        )
        assert brief.status_code == 201, brief.text
        brief_id = brief.json()["id"]
        removed = await ingest.delete(f"/v1/sources/{brief_id}", headers=admin)
        assert removed.status_code == 204, removed.text

        # notifications: a subscription made and removed; a lock set, then set again unchanged
        hook = {"url": f"http://127.0.0.1:{port}/hook", "event_types": ["northstar.review.*"]}
        made = await notifications.post("/v1/webhook-subscriptions", json=hook, headers=admin)
        assert made.status_code == 201, made.text
        subscription_id = made.json()["id"]
        gone = await notifications.delete(
            f"/v1/webhook-subscriptions/{subscription_id}", headers=admin
        )
        assert gone.status_code == 204
        lock = {"channels": {"celebration": {"email": "off"}}, "locked": ["celebration"]}
        for _ in range(2):
            put = await notifications.put("/v1/preferences/defaults", json=lock, headers=admin)
            assert put.status_code == 200, put.text

        # people: HR imports the org (one record); goals learns it from the people topic
        export = "employee_id,email,first_name,last_name,manager_id\nB1,boss@acme.com,B,Oss,\n"
        export += "A1,ada@acme.com,A,Da,B1\n"
        imported = await people.post(
            "/v1/imports", json={"format": "csv", "csv": export}, headers=hr
        )
        assert imported.status_code == 200, imported.text
        listed = (await people.get("/v1/people", headers=hr)).json()["items"]
        ids = {p["user_name"]: p["id"] for p in listed}
        boss_id, ada_id = ids["boss@acme.com"], ids["ada@acme.com"]
        directory = PeopleDirectory(goals_service.state.runtime.db)

        async def projected() -> bool:
            return await directory.manages(tenant, boss_id, ada_id)

        await eventually(projected, timeout=30)
        boss, ada = bearer(tenant, boss_id), bearer(tenant, ada_id)

        # goals: a goal the manager sets for ada, and their review of it, are audited; the
        # goal ada sets herself is not
        body = {"title": "Ship it", "horizon": "short_term", "category": "outcome"}
        assigned = await goals.post(
            "/v1/goals", json={**body, "owner_id": ada_id, "status": "active"}, headers=boss
        )
        assert assigned.status_code == 201, assigned.text
        goal_id = assigned.json()["id"]
        own = await goals.post("/v1/goals", json=body, headers=ada)
        assert own.status_code == 201, own.text
        reviewed = await goals.post(f"/v1/goals/{goal_id}/reviews", json={}, headers=boss)
        assert reviewed.status_code == 200, reviewed.text

        # each service published exactly its own records, with who did them
        def summary(payloads: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
            return sorted((p["action"], p["object_id"], p["actor_id"]) for p in payloads)

        ingest_records = await recorded(ingest_service, "kpi_ingest", 4)
        assert summary(ingest_records) == sorted(
            [
                ("kpi_source.created", source_id, "adm"),
                ("kpi_source.secret_rotated", source_id, "adm"),
                ("kpi_source.created", brief_id, "adm"),
                ("kpi_source.deleted", brief_id, "adm"),
            ]
        )
        trail = orjson.dumps(ingest_records).decode()
        for shown in (source.json()["secret"], rotated.json()["secret"]):
            assert shown not in trail  # the record says when, never the secret itself
        notify_records = await recorded(notify_service, "notifications", 3)
        assert summary(notify_records) == [
            ("notification_defaults.changed", tenant, "adm"),
            ("webhook_subscription.created", subscription_id, "adm"),
            ("webhook_subscription.deleted", subscription_id, "adm"),
        ]
        goal_records = await recorded(goals_service, "goals", 2)
        assert summary(goal_records) == [
            ("goal.assigned", goal_id, boss_id),
            ("goal.reviewed", goal_id, boss_id),
        ]
        assigned_record = next(p for p in goal_records if p["action"] == "goal.assigned")
        assert assigned_record["after"] == {
            "title": "Ship it",
            "owner_id": ada_id,
            "status": "active",
        }
        assert assigned_record["actor_roles"] == ["employee"]
        people_records = await recorded(people_service, "people", 1)
        assert [p["action"] for p in people_records] == ["people_import.applied"]

        # ... and the people service's read model holds all ten, once each, searchable by HR
        async def searched() -> list[dict[str, Any]]:
            page = await people.get("/v1/audit", params={"limit": "50"}, headers=hr)
            items: list[dict[str, Any]] = page.json()["items"]
            return items if len(items) >= 10 else []

        items = await eventually(searched, timeout=30)
        assert sorted((i["service"], i["action"]) for i in items) == [
            ("goals", "goal.assigned"),
            ("goals", "goal.reviewed"),
            ("kpi_ingest", "kpi_source.created"),
            ("kpi_ingest", "kpi_source.created"),
            ("kpi_ingest", "kpi_source.deleted"),
            ("kpi_ingest", "kpi_source.secret_rotated"),
            ("notifications", "notification_defaults.changed"),
            ("notifications", "webhook_subscription.created"),
            ("notifications", "webhook_subscription.deleted"),
            ("people", "people_import.applied"),
        ]
        locked = next(i for i in items if i["action"] == "notification_defaults.changed")
        assert locked["before"] == {"channels": {}, "locked": []}
        assert locked["after"]["locked"] == ["celebration"]
        by_object = await people.get(
            "/v1/audit", params={"object_type": "kpi_source", "object_id": source_id}, headers=hr
        )
        assert len(by_object.json()["items"]) == 2
        assert all(
            i["actor"] == {"type": "person", "id": "adm", "roles": ["admin"]}
            for i in by_object.json()["items"]
        )
        # another tenant's HR sees none of it, and the tenant's employees may not look
        stranger = bearer(unique("globex-"), "hr-9", "hr_admin")
        assert (await people.get("/v1/audit", headers=stranger)).json()["items"] == []
        assert (await people.get("/v1/audit", headers=ada)).status_code == 403
        assert people_service.state.audit_records is not None
