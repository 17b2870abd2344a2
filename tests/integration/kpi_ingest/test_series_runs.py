"""A run of points stored at once (the consumer's batch path) on the real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from services.kpi_ingest.catalog import Catalog
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.domain import DataPoint, MetricDefinition
from services.kpi_ingest.events import datapoint_recorded
from services.kpi_ingest.handlers import build_router
from services.kpi_ingest.repository import INDEXES, KpiRepository
from services.kpi_ingest.series import Series
from shared.events import Envelope
from shared.mongo import Document, ensure_indexes, open_database
from tests.support import isolated_settings

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.fixture
async def repo() -> AsyncIterator[KpiRepository]:
    settings = isolated_settings(KpiIngestSettings)
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    db = await open_database(client, settings.mongodb_database)
    await ensure_indexes(db, INDEXES)
    yield KpiRepository(db)
    await client.drop_database(settings.mongodb_database)
    await client.close()


def point(pid: str, value: float, hours: int, metric: str = "revenue") -> DataPoint:
    return DataPoint(
        id=pid,
        tenant="acme",
        metric=metric,
        value=value,
        timestamp=AT + timedelta(hours=hours),
        dimensions={"team": "core"},
        source_id="s",
        source_event_id=pid,
    )


async def test_a_run_stores_each_point_once_and_the_latest_activity_per_metric(
    repo: KpiRepository,
) -> None:
    series = Series(repo, Catalog(repo, ttl=0))
    await series.record_many([point("a", 1, 1), point("b", 2, 3), point("a", 1, 1)])
    # the next run repeats a stored point (a redelivery) besides a new one: skipped, not failed
    await series.record_many([point("b", 2, 3), point("c", 4, 2), point("d", 8, 5, "nps")])

    stored = {doc["_id"]: doc["value"] async for doc in repo.datapoints.find({"tenant": "acme"})}
    assert stored == {"acme:a": 1, "acme:b": 2, "acme:c": 4, "acme:d": 8}
    revenue = await repo.activity_of("acme", "revenue")
    nps = await repo.activity_of("acme", "nps")
    assert revenue is not None
    assert nps is not None
    assert revenue["last_seen"] == AT + timedelta(hours=3)  # c came later but is older
    assert nps["last_seen"] == AT + timedelta(hours=5)


async def test_a_metrics_activity_is_written_again_only_once_its_newest_point_is_a_second_on(
    repo: KpiRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    # at hundreds of points a second every consumer run used to rewrite the activity document
    series = Series(repo, Catalog(repo, ttl=0))
    writes: list[datetime] = []
    touch = repo.touch_activity

    async def counted(tenant: str, metric: str, seen: datetime) -> None:
        writes.append(seen)
        await touch(tenant, metric, seen)

    monkeypatch.setattr(repo, "touch_activity", counted)
    second = timedelta(seconds=1)
    for i, offset in enumerate((0.0, 0.2, 0.9, -5.0, 1.0, 1.5, 2.2)):
        await series.record_many([replace(point(f"p{i}", i, 0), timestamp=AT + offset * second)])
    assert writes == [AT, AT + second, AT + 2.2 * second]
    stored = await repo.activity_of("acme", "revenue")
    assert stored is not None
    assert stored["last_seen"] == AT + 2.2 * second
    # another replica (a Series of its own) writes its first run whatever this one stored
    await Series(repo, Catalog(repo, ttl=0)).record_many([point("q", 1, 0)])
    assert writes[-1] == AT


async def test_only_a_run_that_crosses_a_threshold_wakes_the_outbox_relays(
    repo: KpiRepository,
) -> None:
    # waking the relays costs a find on each outbox collection: a run with no signal to relay
    # leaves them to their poll
    await repo.add_metric(
        "acme",
        MetricDefinition(key="csat", name="CSAT", unit="score", kind="gauge", thresholds=(4,)),
    )
    woken: list[int] = []
    router = build_router(Series(repo, Catalog(repo, ttl=0)), lambda: woken.append(1))

    def run(*points: DataPoint) -> list[Envelope]:
        return [datapoint_recorded(p, AT) for p in points]

    await router.dispatch_batch(run(point("q1", 3, 1, "csat"), point("q2", 3.5, 2, "csat")))
    await router.dispatch_batch(run(point("r1", 7, 3)))  # no thresholds at all
    assert woken == []
    await router.dispatch_batch(run(point("q3", 4.5, 4, "csat")))  # crosses 4 upwards
    assert woken == [1]
    pending = await repo.series_state.find_one({"pending_events.0": {"$exists": True}})
    assert pending is not None  # the signal the relays were woken for
