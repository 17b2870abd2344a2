"""A run's reminder bookkeeping on the real store: settled refs and suppressed deliveries in one
round trip each, with the outcome of the one-by-one calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import DELIVERIES, DeliveryRepository, waiting_reminders
from services.notifications.settled import SettledRefs
from shared.mongo import Document, open_database
from tests.support import isolated_settings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 9, 22, tzinfo=UTC)


@pytest.fixture
async def db() -> AsyncIterator[Any]:
    settings = isolated_settings(NotificationsSettings)
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    yield await open_database(client, settings.mongodb_database)
    await client.drop_database(settings.mongodb_database)
    await client.close()


def waiting(delivery_id: str, ref: str, status: str, minutes: int | None) -> Document:
    doc: Document = {"_id": delivery_id, "tenant": "acme", "ref": ref, "status": status}
    if minutes is not None:
        doc["ref_at"] = T0 + timedelta(minutes=minutes)
    return doc


async def test_a_runs_suppressions_and_settlements_match_the_calls_one_by_one(db: Any) -> None:
    deliveries, settled = DeliveryRepository(db), SettledRefs(db)
    docs = [
        waiting("a-old", "goal-update:a", "pending", 1),  # made before a's latest: suppressed
        waiting("a-new", "goal-update:a", "pending", 9),  # made after it: kept
        waiting("a-none", "goal-update:a", "digest", None),  # no time: suppressed
        waiting("b-old", "goal-update:b", "pending", 2),  # before b's: suppressed
        waiting("b-sent", "goal-update:b", "delivered", 1),  # already delivered: kept
        waiting("c-old", "goal-update:c", "pending", 1),  # another ref: kept
    ]
    await db[DELIVERIES].insert_many(docs)
    refs = [
        ("goal-update:a", T0 + timedelta(minutes=5)),
        ("goal-update:b", T0 + timedelta(minutes=3)),
    ]
    now = T0 + timedelta(hours=1)

    assert await deliveries.suppress_reminders_many("acme", refs, "moved", now) == 3
    await settled.settle_many("acme", [(ref, at, "moved") for ref, at in refs])
    statuses = {d["_id"]: d["status"] async for d in db[DELIVERIES].find({})}
    assert statuses == {
        "a-old": "suppressed",
        "a-new": "pending",
        "a-none": "suppressed",
        "b-old": "suppressed",
        "b-sent": "delivered",
        "c-old": "pending",
    }
    assert await settled.moot("acme", "goal-update:a", T0 + timedelta(minutes=5)) == "moved"
    assert await settled.moot("acme", "goal-update:b", T0 + timedelta(minutes=4)) is None

    # the same calls one by one on a fresh copy end the same way
    await db[DELIVERIES].delete_many({})
    await db[DELIVERIES].insert_many(docs)
    for one in refs:
        await deliveries.suppress_reminders_many("acme", [one], "moved", now)
    assert {d["_id"]: d["status"] async for d in db[DELIVERIES].find({})} == statuses


async def test_a_run_leaves_the_tenants_other_deliveries_alone(db: Any) -> None:
    # a tenant's history: celebrations and other notices carry no ref_at, and no reminder ref
    history = [
        {"_id": f"cel-{i}", "tenant": "acme", "ref": f"goal:{i}", "status": "pending"}
        for i in range(40)
    ]
    await db[DELIVERIES].insert_many(
        [*history, waiting("a-none", "goal-update:a", "pending", None)]
    )
    refs = [("goal-update:a", T0)]

    assert await DeliveryRepository(db).suppress_reminders_many("acme", refs, "moved", T0) == 1
    statuses = {d["_id"]: d["status"] async for d in db[DELIVERIES].find({})}
    assert statuses.pop("a-none") == "suppressed"
    assert set(statuses.values()) == {"pending"}


def test_every_branch_of_a_runs_reminder_filter_names_its_ref() -> None:
    # what lets the local store narrow the update to the run's refs (it hands equality and
    # $or to PostgreSQL, not $in): a branch without a ref made every run read the tenant's
    # whole delivery history (each of its deliveries without ref_at)
    refs = [("goal-update:a", T0), ("goal-update:b", T0), ("goal-update:a", T0)]
    branches = waiting_reminders("acme", refs)["$or"]
    assert {b["ref"] for b in branches} == {"goal-update:a", "goal-update:b"}
    assert all("ref" in b and set(b) == {"ref", "ref_at"} for b in branches)
