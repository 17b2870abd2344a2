"""Retention on the real document store: the tenant's setting (set over the API) purges only
what is older than it, of that tenant, and only what may go; one replica at a time; bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app as kpi_app
from services.kpi_ingest.repository import DATAPOINTS
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import DELIVERIES
from services.notifications.main import create_app as notifications_app
from services.notifications.privacy import retention_purges
from services.notifications.repository import NOTIFICATIONS
from shared.retention import Purge, RetentionJob
from tests.support import bearer, isolated_settings, running, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=5)


def _ids(docs: list[dict[str, Any]]) -> set[str]:
    return {doc["_id"] for doc in docs}


async def test_notifications_purge_only_old_settled_items_of_the_tenant() -> None:
    settings = isolated_settings(
        NotificationsSettings, consumers_enabled=False, retention_enabled=False
    )
    app = notifications_app(settings, clock=lambda: NOW)
    tenant, other = unique("ta-"), unique("tb-")
    async with running(app) as client:
        admin = bearer(tenant, "it", "admin")
        assert (await client.get("/v1/retention", headers=admin)).json()["days"] is None
        put = await client.put("/v1/retention", json={"days": 30}, headers=admin)
        assert put.status_code == 200, put.text
        assert (await client.put("/v1/retention", json={"days": 0}, headers=admin)).status_code == (
            422
        )
        employee = bearer(tenant, "someone")
        assert (await client.get("/v1/retention", headers=employee)).status_code == 403

        db = app.state.runtime.db
        inbox = [
            {"_id": "old", "tenant": tenant, "created_at": OLD},
            {"_id": "recent", "tenant": tenant, "created_at": RECENT},
            {"_id": "other-tenant-old", "tenant": other, "created_at": OLD},
        ]
        await db[NOTIFICATIONS].insert_many(inbox)
        deliveries = [
            {"_id": "d-old", "tenant": tenant, "status": "delivered", "created_at": OLD},
            {"_id": "d-old-failed", "tenant": tenant, "status": "failed", "created_at": OLD},
            {"_id": "d-old-waiting", "tenant": tenant, "status": "pending", "created_at": OLD},
            {"_id": "d-recent", "tenant": tenant, "status": "delivered", "created_at": RECENT},
        ]
        await db[DELIVERIES].insert_many(deliveries)

        job = RetentionJob(db, retention_purges(db), service="notifications", clock=lambda: NOW)
        rival = RetentionJob(db, retention_purges(db), service="notifications", clock=lambda: NOW)
        assert await job.tick() == {"inbox": 1, "deliveries": 2}
        assert await rival.tick() is None, "the lease keeps a second replica out"
        assert _ids(await db[NOTIFICATIONS].find({}).to_list()) == {"recent", "other-tenant-old"}
        assert _ids(await db[DELIVERIES].find({}).to_list()) == {
            "d-old-waiting",
            "d-recent",
        }
        assert await job.tick() == {"inbox": 0, "deliveries": 0}, "nothing more to do"


async def test_kpi_points_purge_is_bounded_per_round() -> None:
    settings = isolated_settings(
        KpiIngestSettings, consumers_enabled=False, retention_enabled=False
    )
    app = kpi_app(settings)
    tenant = unique("ta-")
    async with running(app) as client:
        put = await client.put(
            "/v1/retention", json={"days": 30}, headers=bearer(tenant, "it", "admin")
        )
        assert put.status_code == 200, put.text
        db = app.state.runtime.db
        points = [
            {"_id": f"{tenant}:old-{n}", "tenant": tenant, "metric": "m", "ts": OLD}
            for n in range(5)
        ]
        points.append({"_id": f"{tenant}:recent", "tenant": tenant, "metric": "m", "ts": RECENT})
        await db[DATAPOINTS].insert_many(points)
        purge = [Purge(DATAPOINTS, db[DATAPOINTS], "ts")]
        job = RetentionJob(db, purge, service="kpi_ingest", clock=lambda: NOW, batch=3)
        assert await job.tick() == {DATAPOINTS: 3}
        assert await job.tick() == {DATAPOINTS: 2}
        assert _ids(await db[DATAPOINTS].find({}).to_list()) == {f"{tenant}:recent"}
