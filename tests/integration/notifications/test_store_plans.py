"""What notifications asks the store for on every event is served by an index, not by reading
the tenant's history: on the local FerretDB on PostgreSQL, equality on an index's fields is
answered by a GIN index (a non-unique index's own, a unique index's twin; the unique B-tree of
expressions serves no such lookup)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import DeliveryRepository
from services.notifications.repository import NOTIFICATIONS, NotificationRepository
from shared.mongo import Document, ensure_indexes
from tests.support import isolated_settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def db() -> AsyncIterator[Any]:
    settings = isolated_settings(NotificationsSettings)
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    info = await client.admin.command("buildInfo")
    if not info.get("ferretdbFeatures", {}).get("compareAndSwapUpdates"):
        pytest.skip("the plans' shape is the local FerretDB-on-PostgreSQL's")
    db = client[settings.mongodb_database]
    await ensure_indexes(db, {**NotificationRepository.indexes(), **DeliveryRepository.indexes()})
    yield db
    await client.drop_database(settings.mongodb_database)
    await client.close()


async def plan(db: Any, collection: str, filter_: Document) -> str:
    await db.command({"collStats": collection})
    found = await db.command({"explain": {"find": collection, "filter": filter_}})
    return json.dumps(found.get("queryPlanner", {}), default=str)


async def test_an_events_notifications_are_found_by_index(db: Any) -> None:
    await db[NOTIFICATIONS].insert_many(
        [
            {"_id": f"n{i}", "tenant": "acme", "event_id": f"e{i // 3}", "recipient_id": f"p{i}"}
            for i in range(3000)
        ]
    )
    # the check before an event's notifications are inserted (a redelivery): by their own ids,
    # the primary index (by tenant and event, a GIN intersection whose tenant side is every
    # item the tenant has: 1.0 ms at 5,000 items, 3.7 ms at 50,000; by ids 0.7 ms at both)
    text = await plan(db, NOTIFICATIONS, {"_id": {"$in": ["n21", "n22", "n23"]}})
    assert "Bitmap Index" in text or "Index Scan" in text, text[:600]
