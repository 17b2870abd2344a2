"""Benchmark: one event fanned out to 10,000 recipients' inboxes through the real code path.

Run: ``.venv/bin/python -m tests.bench.bench_fanout`` (needs the document store; no Kafka).
It seeds 10,000 people and goals bound to one metric, then times the notifications service's
handler for one ``kpi.threshold.crossed`` event (recipient lookup, preferences, rule decisions,
inbox items and queued digest deliveries), and, in the same run, a bare ``insert_many`` of
exactly the documents it wrote into empty collections with the same indexes. It prints both
times and their ratio and writes ``bench-results/fanout.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import DELIVERIES, DeliveryRepository
from services.notifications.handlers import build_router
from services.notifications.inbox import InboxHub
from services.notifications.repository import (
    BINDINGS,
    NOTIFICATIONS,
    GoalBindings,
    NotificationRepository,
    PreferenceRepository,
)
from services.notifications.service import Notifier
from services.notifications.settled import SettledRefs
from services.notifications.subscriptions import SubscriptionRepository
from shared.directory import PeopleDirectory
from shared.erasure import ErasedPeople
from shared.events import new_event
from shared.events.kpi import KpiThresholdCrossed
from shared.mongo import ensure_indexes
from shared.time import utcnow

TENANT = "bench"
METRIC = "adoption_rate"


async def seed(db: Any, n: int) -> None:
    people = [
        {
            "_id": f"{TENANT}:p{i}",
            "id": f"p{i}",
            "tenant": TENANT,
            "user_name": f"p{i}@bench.test",
            "display_name": f"Person {i}",
            "email": f"p{i}@bench.test",
            "manager_id": None,
            "time_zone": "Europe/Paris",
            "active": True,
        }
        for i in range(n)
    ]
    bindings = [
        {
            "_id": f"{TENANT}:g{i}",
            "tenant": TENANT,
            "goal_id": f"g{i}",
            "owner_id": f"p{i}",
            "status": "active",
            "bound_metrics": [METRIC],
        }
        for i in range(n)
    ]
    for start in range(0, n, 2000):
        await db[PeopleDirectory.PEOPLE].insert_many(people[start : start + 2000])
        await db[BINDINGS].insert_many(bindings[start : start + 2000])


async def bare_insert(db: Any, name: str, docs: list[dict[str, Any]], indexes: Any) -> float:
    await ensure_indexes(db, {name: indexes})
    started = time.perf_counter()
    for start in range(0, len(docs), 1000):
        await db[name].insert_many(docs[start : start + 1000], ordered=False)
    return time.perf_counter() - started


async def run(recipients: int, with_redelivery: bool = False) -> dict[str, Any]:
    settings = NotificationsSettings()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    db_name = f"bench_{uuid.uuid4().hex[:8]}_notifications"
    db = client[db_name]
    try:
        notifications, deliveries = NotificationRepository(db), DeliveryRepository(db)
        preferences, bindings = PreferenceRepository(db), GoalBindings(db)
        subscriptions, directory = SubscriptionRepository(db), PeopleDirectory(db)
        await ensure_indexes(
            db,
            {
                **notifications.indexes(),
                **deliveries.indexes(),
                **preferences.indexes(),
                **bindings.indexes(),
                **subscriptions.indexes(),
                **PeopleDirectory.indexes(),
            },
        )
        await seed(db, recipients)
        notifier = Notifier(
            notifications=notifications,
            deliveries=deliveries,
            preferences=preferences,
            bindings=bindings,
            subscriptions=subscriptions,
            directory=directory,
            settled=SettledRefs(db),
            erased=ErasedPeople(db, utcnow),
            clock=utcnow,
            hub=InboxHub(),
            service="bench",
        )
        router = build_router(directory, notifier)
        payload = KpiThresholdCrossed(
            tenant=TENANT,
            metric=METRIC,
            threshold=0.3,
            direction="up",
            value=0.31,
            datapoint_id="dp-bench",
            timestamp=datetime.now(UTC),
        )
        event = new_event(payload, tenant=TENANT, subject=f"{TENANT}:{METRIC}", source="bench")

        started = time.perf_counter()
        await router.dispatch(event)
        fanout_s = time.perf_counter() - started

        inbox = [doc async for doc in db[NOTIFICATIONS].find({"tenant": TENANT})]
        queued = [doc async for doc in db[DELIVERIES].find({"tenant": TENANT})]
        assert sum(1 for d in inbox if d["in_inbox"]) == recipients, "every inbox got the item"
        bare_s = await bare_insert(
            db, "bare_notifications", inbox, notifications.indexes()[NOTIFICATIONS]
        )
        bare_s += await bare_insert(db, "bare_deliveries", queued, deliveries.indexes()[DELIVERIES])

        redelivery_s = None
        if with_redelivery:  # a redelivery writes nothing new
            started = time.perf_counter()
            await router.dispatch(event)
            redelivery_s = round(time.perf_counter() - started, 3)
            assert await db[NOTIFICATIONS].count_documents({"tenant": TENANT}) == len(inbox)
        return {
            "recipients": recipients,
            "inbox_items": len(inbox),
            "queued_deliveries": len(queued),
            "documents_written": len(inbox) + len(queued),
            "fanout_seconds": round(fanout_s, 3),
            "bare_insert_seconds": round(bare_s, 3),
            "ratio_to_bare_insert": round(fanout_s / bare_s, 2),
            "redelivery_seconds": redelivery_s,
            "document_store": settings.mongodb_uri.split("@")[-1],
            "at": datetime.now(UTC).isoformat(),
        }
    finally:
        await client.drop_database(db_name)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--out", default="bench-results/fanout.json")
    parser.add_argument(
        "--with-redelivery", action="store_true", help="also time a redelivery of the event"
    )
    args = parser.parse_args()
    result = asyncio.run(asyncio.wait_for(run(args.recipients, args.with_redelivery), timeout=170))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"fan-out of one event to {result['recipients']} inboxes "
        f"({result['documents_written']} documents): {result['fanout_seconds']:.2f} s; "
        f"bare bulk insert of the same documents: {result['bare_insert_seconds']:.2f} s; "
        f"ratio {result['ratio_to_bare_insert']:.2f}x -> {out}"
    )


if __name__ == "__main__":
    main()
