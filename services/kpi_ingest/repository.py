"""Every query of the kpi_ingest service, and the document <-> domain mapping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.kpi_ingest.domain import DataPoint, MetricDefinition, Source, SourceSecret
from shared.events import Envelope
from shared.messaging.outbox import PENDING, with_outbox
from shared.mongo import Document, insert_missing, update_versioned
from shared.time import as_utc

SOURCES = "sources"
METRICS = "metrics"
DELIVERY_JOURNAL = "delivery_journal"
REPLICAS = "replicas"
DATAPOINTS = "datapoints"
SERIES_STATE = "series_state"
ACTIVITY = "activity"
RATE_LEASES = "rate_leases"

INDEXES: dict[str, list[IndexModel]] = {
    SOURCES: [IndexModel([("tenant", ASCENDING), ("created_at", ASCENDING)])],
    METRICS: [IndexModel([("tenant", ASCENDING), ("key", ASCENDING)], unique=True)],
    DELIVERY_JOURNAL: [IndexModel([("at", ASCENDING)])],
    RATE_LEASES: [IndexModel([("at", ASCENDING)])],
    DATAPOINTS: [IndexModel([("tenant", ASCENDING), ("metric", ASCENDING), ("ts", ASCENDING)])],
    SERIES_STATE: [IndexModel([("tenant", ASCENDING), ("metric", ASCENDING)])],
    ACTIVITY: [IndexModel([("tenant", ASCENDING), ("metric", ASCENDING)])],
}


def _source(doc: Document) -> Source:
    return Source(
        id=doc["_id"],
        tenant=doc["tenant"],
        name=doc["name"],
        format=doc["format"],
        mapping=orjson.loads(doc["mapping_json"]) if doc.get("mapping_json") else {},
        secrets=tuple(
            SourceSecret(
                value=s["value"],
                created_at=as_utc(s["created_at"]),
                expires_at=as_utc(s.get("expires_at")),
            )
            for s in doc.get("secrets", [])
        ),
        created_at=as_utc(doc["created_at"]),
        auth=doc.get("auth", "signature"),
    )


def _source_doc(source: Source) -> Document:
    return {
        "_id": source.id,
        "tenant": source.tenant,
        "name": source.name,
        "format": source.format,
        # kept as JSON text: sender-side names (event names, OTLP metric names) may contain dots,
        # which document keys may not
        "mapping_json": orjson.dumps(dict(source.mapping)).decode(),
        "secrets": [
            {"value": s.value, "created_at": s.created_at, "expires_at": s.expires_at}
            for s in source.secrets
        ],
        "created_at": source.created_at,
        "auth": source.auth,
    }


def _metric(doc: Document) -> MetricDefinition:
    return MetricDefinition(
        key=doc["key"],
        name=doc["name"],
        unit=doc["unit"],
        kind=doc["kind"],
        thresholds=tuple(doc.get("thresholds") or ()),
        expected_every_s=doc.get("expected_every_s"),
        created_at=as_utc(doc["created_at"]),
    )


def point_doc(point: DataPoint) -> Document:
    ts = point.timestamp
    return {
        "_id": f"{point.tenant}:{point.id}",
        "tenant": point.tenant,
        "metric": point.metric,
        "value": point.value,
        # summed for bucket counts (a {"$sum": 1} works too; this reads plainly)
        "n": 1,
        "ts": ts,
        "hour": ts.replace(minute=0, second=0, microsecond=0),
        "day": ts.replace(hour=0, minute=0, second=0, microsecond=0),
        "dims": point.dimensions,
        "source_id": point.source_id,
        "source_event_id": point.source_event_id,
    }


class KpiRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.sources = db[SOURCES]
        self.metrics = db[METRICS]
        self.delivery_journal = db[DELIVERY_JOURNAL]
        self.replicas = db[REPLICAS]
        self.datapoints = db[DATAPOINTS]
        self.series_state = db[SERIES_STATE]
        self.activity = db[ACTIVITY]
        self.rate_leases = db[RATE_LEASES]
        # threshold and stale signals; a source carries the audit records of its creation and
        # secret rotations
        self.outboxes = (self.series_state, self.activity, self.sources)

    # ---------------------------------------------------------------- sources

    async def add_source(self, source: Source, events: Sequence[Envelope] = ()) -> None:
        doc = _source_doc(source)
        doc["pending_events"] = [e.to_document() for e in events]
        await self.sources.insert_one(doc)

    async def source(self, source_id: str, tenant: str | None = None) -> Source | None:
        query: Document = {"_id": source_id}
        if tenant is not None:
            query["tenant"] = tenant
        doc = await self.sources.find_one(query)
        return _source(doc) if doc else None

    async def sources_of(self, tenant: str) -> list[Source]:
        cursor = self.sources.find({"tenant": tenant}).sort("created_at", ASCENDING)
        return [_source(doc) async for doc in cursor]

    async def save_secrets(self, source: Source, events: Sequence[Envelope] = ()) -> None:
        doc = _source_doc(source)
        await self.sources.update_one(
            {"_id": source.id, "tenant": source.tenant},
            with_outbox({"$set": {"secrets": doc["secrets"]}}, events),
        )

    async def unpublished(self, tenant: str, source_id: str) -> list[Document]:
        """The outbox entries of a source the relay has not published yet."""
        doc = await self.sources.find_one({"_id": source_id, "tenant": tenant}, {PENDING: 1})
        return list(doc.get(PENDING) or []) if doc else []

    async def delete_source(self, tenant: str, source_id: str) -> bool:
        result = await self.sources.delete_one({"_id": source_id, "tenant": tenant})
        return result.deleted_count == 1

    # ---------------------------------------------------------------- metric definitions

    async def add_metric(self, tenant: str, metric: MetricDefinition) -> bool:
        """False when the tenant already defined this key."""
        try:
            await self.metrics.insert_one(
                {
                    "_id": f"{tenant}:{metric.key}",
                    "tenant": tenant,
                    "key": metric.key,
                    "name": metric.name,
                    "unit": metric.unit,
                    "kind": metric.kind,
                    "thresholds": list(metric.thresholds),
                    "expected_every_s": metric.expected_every_s,
                    "created_at": metric.created_at,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def metrics_of(self, tenant: str) -> dict[str, MetricDefinition]:
        return {doc["key"]: _metric(doc) async for doc in self.metrics.find({"tenant": tenant})}

    async def metrics_with_cadence(self) -> list[tuple[str, MetricDefinition]]:
        cursor = self.metrics.find({"expected_every_s": {"$gt": 0}})
        return [(doc["tenant"], _metric(doc)) async for doc in cursor]

    # ---------------------------------------------------------------- webhook deliveries

    async def prune_webhook_state(self, older_than: datetime) -> int:
        """Forget deliveries past replay and rate-limit leases of past windows."""
        await self.rate_leases.delete_many({"at": {"$lt": older_than}})
        result = await self.delivery_journal.delete_many({"at": {"$lt": older_than}})
        return result.deleted_count

    # ---------------------------------------------------------------- series

    async def store_points(self, points: Sequence[DataPoint]) -> None:
        """Insert each point once under its id, in one round trip; stored ones are skipped."""
        await insert_missing(self.datapoints, [point_doc(p) for p in points])

    async def buckets(
        self,
        tenant: str,
        metric: str,
        start: datetime,
        end: datetime,
        bucket: str,
        dimensions: Mapping[str, str],
    ) -> list[tuple[datetime, float, int]]:
        """(bucket start, sum, count) per bucket; FerretDB has no $avg, so the mean is sum/count.

        Two pipelines, one accumulator each: FerretDB 1.24 answers 0 for every accumulator of a
        ``$group`` but the first.
        """
        match: Document = {"tenant": tenant, "metric": metric, "ts": {"$gte": start, "$lt": end}}
        match.update({f"dims.{k}": v for k, v in dimensions.items()})
        totals: dict[Any, Any] = {}
        counts: dict[Any, Any] = {}
        for field, into in (("$value", totals), ("$n", counts)):
            cursor = await self.datapoints.aggregate(
                [
                    {"$match": match},
                    {"$group": {"_id": f"${bucket}", "acc": {"$sum": field}}},
                ]
            )
            async for doc in cursor:
                into[doc["_id"]] = doc["acc"]
        return sorted(
            (as_utc(at), float(total), int(counts.get(at, 0))) for at, total in totals.items()
        )

    async def latest(
        self, tenant: str, metric: str, dimensions: Mapping[str, str]
    ) -> Document | None:
        query: Document = {"tenant": tenant, "metric": metric}
        query.update({f"dims.{k}": v for k, v in dimensions.items()})
        cursor = self.datapoints.find(query).sort([("ts", DESCENDING), ("_id", DESCENDING)])
        async for doc in cursor.limit(1):
            doc["ts"] = as_utc(doc["ts"])
            return doc
        return None

    # ---------------------------------------------------------------- signals

    async def series_state_of(self, state_id: str) -> Document | None:
        return await self.series_state.find_one({"_id": state_id})

    async def save_series_state(
        self, state_id: str, version: int | None, fields: Document, events: Sequence[Envelope]
    ) -> None:
        """Move a series' last value; its crossing events ride in the same update (outbox)."""
        if version is None:
            try:
                await self.series_state.insert_one(
                    {
                        "_id": state_id,
                        **fields,
                        "version": 1,
                        "pending_events": [e.to_document() for e in events],
                    }
                )
            except DuplicateKeyError:
                from shared.errors import VersionConflict

                raise VersionConflict("series state created concurrently") from None
            return
        await update_versioned(
            self.series_state, {"_id": state_id}, version, with_outbox({"$set": fields}, events)
        )

    async def touch_activity(self, tenant: str, metric: str, seen: datetime) -> None:
        await self.activity.update_one(
            {"_id": f"{tenant}:{metric}"},
            {"$max": {"last_seen": seen}, "$setOnInsert": {"tenant": tenant, "metric": metric}},
            upsert=True,
        )

    async def activity_of(self, tenant: str, metric: str) -> Document | None:
        doc = await self.activity.find_one({"_id": f"{tenant}:{metric}"})
        if doc is not None:
            doc["last_seen"] = as_utc(doc.get("last_seen"))
            doc["stale_for"] = as_utc(doc.get("stale_for"))
        return doc

    async def mark_stale(self, tenant: str, metric: str, marker: datetime, event: Envelope) -> bool:
        """Record that this quiet period was signalled, with its event, exactly once."""
        result = await self.activity.update_one(
            {"_id": f"{tenant}:{metric}", "stale_for": {"$ne": marker}},
            with_outbox({"$set": {"stale_for": marker}}, [event]),
        )
        if result.matched_count:
            return True
        try:  # never seen: the activity document does not exist yet
            await self.activity.insert_one(
                {
                    "_id": f"{tenant}:{metric}",
                    "tenant": tenant,
                    "metric": metric,
                    "stale_for": marker,
                    "pending_events": [event.to_document()],
                }
            )
        except DuplicateKeyError:
            return False
        return True


# How long accepted deliveries are remembered; a delivery older than this cannot be replayed
# (Standard Webhooks: the 5-minute tolerance; Segment's X-Signature: the calls' own times).
REPLAY_WINDOW = timedelta(hours=1)


def prune_horizon(now: datetime) -> datetime:
    """Deliveries older than this are forgotten."""
    return now - REPLAY_WINDOW
