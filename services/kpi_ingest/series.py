"""The series projection: storing data points once, bucketed reads, threshold and stale signals."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from services.kpi_ingest import events
from services.kpi_ingest.catalog import Catalog
from services.kpi_ingest.domain import DataPoint, crossings, is_stale
from services.kpi_ingest.repository import KpiRepository, prune_horizon
from shared.background import BackgroundLoop
from shared.errors import NotFound, RuleNotMet
from shared.events.kpi import series_key
from shared.observability import get_logger

log = get_logger(__name__)

Bucket = Literal["hour", "day"]
BUCKET_WIDTH = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_BUCKETS = 2000
# how far a metric's stored ``last_seen`` may trail its newest point. The stale check runs once
# a minute against cadences of seconds or more, so a second is below what it can tell; at
# hundreds of points a second it turns an activity write per consumer run into one per metric
# a second (docs/kpi-ingest.md).
ACTIVITY_RESOLUTION = timedelta(seconds=1)


@dataclass(frozen=True)
class SeriesPoint:
    start: datetime
    value: float
    count: int


class Series:
    """Reads of the stored series and the consumer's effects on it."""

    def __init__(self, repo: KpiRepository, catalog: Catalog) -> None:
        self._repo = repo
        self._catalog = catalog
        # (tenant, metric) -> the newest last_seen this replica stored: the store holds at
        # least that (a $max), so a point within ACTIVITY_RESOLUTION of it need not be written
        self._activity_stored: dict[tuple[str, str], datetime] = {}

    async def _definition(self, tenant: str, key: str) -> Any:
        definition = (await self._catalog.metrics(tenant)).get(key)
        if definition is None:
            raise NotFound(f"no metric {key}")
        return definition

    async def buckets(
        self,
        tenant: str,
        key: str,
        start: datetime,
        end: datetime,
        bucket: Bucket,
        dimensions: Mapping[str, str],
    ) -> tuple[str, list[SeriesPoint]]:
        """Mean per bucket for gauges, sum per bucket for counters; empty buckets are left out."""
        definition = await self._definition(tenant, key)
        if end <= start:
            raise RuleNotMet("to must be after from")
        if (end - start) / BUCKET_WIDTH[bucket] > MAX_BUCKETS:
            raise RuleNotMet(f"at most {MAX_BUCKETS} buckets per request; widen the bucket")
        rows = await self._repo.buckets(tenant, key, start, end, bucket, dimensions)
        aggregation = "mean" if definition.kind == "gauge" else "sum"
        return aggregation, [
            SeriesPoint(
                start=at, value=total / count if aggregation == "mean" else total, count=count
            )
            for at, total, count in rows
        ]

    async def latest(self, tenant: str, key: str, dimensions: Mapping[str, str]) -> Any:
        await self._definition(tenant, key)
        found = await self._repo.latest(tenant, key, dimensions)
        if found is None:
            raise NotFound(f"no data point for metric {key} yet")
        return found

    # ---------------------------------------------------------------- consumer effects

    async def record_many(self, points: Sequence[DataPoint]) -> int:
        """Store points once each and move their series' signals; safe to run again on
        redelivery. A run in order: one insert for all of them, one activity update per metric
        (none when this replica stored one within ACTIVITY_RESOLUTION of the run's newest);
        thresholds move point by point, in order. Returns how many signals it wrote (in their
        series' outbox)."""
        await self._repo.store_points(points)
        last_seen: dict[tuple[str, str], datetime] = {}
        for point in points:
            key = (point.tenant, point.metric)
            last_seen[key] = max(point.timestamp, last_seen.get(key, point.timestamp))
        for key, seen in last_seen.items():
            stored = self._activity_stored.get(key)
            if stored is not None and seen - stored < ACTIVITY_RESOLUTION:
                continue
            await self._repo.touch_activity(*key, seen)
            self._activity_stored[key] = seen  # past the check, newer than what was stored
        signals = 0
        for point in points:
            definition = (await self._catalog.metrics(point.tenant)).get(point.metric)
            if definition is not None and definition.thresholds:
                signals += await self._move_thresholds(point, definition.thresholds)
        return signals

    async def _move_thresholds(self, point: DataPoint, thresholds: tuple[float, ...]) -> int:
        # the series' partition key: its points arrive in order on one partition
        state_id = series_key(point.tenant, point.metric, point.dimensions)
        state = await self._repo.series_state_of(state_id)
        if state is not None:
            last_ts = state["ts"] if state["ts"].tzinfo else state["ts"].replace(tzinfo=UTC)
            if state["point_id"] == point.id or point.timestamp < last_ts:
                return 0  # a redelivery, or a late point that does not move the latest value
        previous = None if state is None else float(state["value"])
        crossed = [
            events.threshold_crossed(point, threshold, direction)
            for threshold, direction in crossings(previous, point.value, thresholds)
        ]
        await self._repo.save_series_state(
            state_id,
            None if state is None else int(state["version"]),
            {
                "tenant": point.tenant,
                "metric": point.metric,
                "dims": point.dimensions,
                "value": point.value,
                "ts": point.timestamp,
                "point_id": point.id,
            },
            crossed,
        )
        return len(crossed)

    async def check_stale(self, now: datetime) -> int:
        """Signal, once per quiet period, each metric quiet for longer than expected."""
        signalled = 0
        for tenant, definition in await self._repo.metrics_with_cadence():
            assert definition.expected_every_s is not None
            activity = await self._repo.activity_of(tenant, definition.key)
            last_seen = activity.get("last_seen") if activity else None
            if not is_stale(definition, last_seen, now):
                continue
            marker = last_seen or definition.created_at
            if activity is not None and activity.get("stale_for") == marker:
                continue
            event = events.stale(
                tenant, definition.key, definition.expected_every_s, last_seen, marker
            )
            if await self._repo.mark_stale(tenant, definition.key, marker, event):
                signalled += 1
        return signalled


class StaleChecker:
    """A periodic task: stale signals, and pruning webhook ids past replay."""

    def __init__(
        self,
        series: Series,
        repo: KpiRepository,
        interval_s: float,
        *,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._series = series
        self._repo = repo
        self._loop = BackgroundLoop("kpi-stale-checker", self._round, interval_s)
        self._notify = notify

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _round(self) -> None:
        now = datetime.now(UTC)
        if await self._series.check_stale(now):
            self._notify()
        await self._repo.prune_webhook_state(prune_horizon(now))
