"""The KPI binding index: which draft or active goals a data point may move, by ``_id`` lookups.

Documents of ``goal_kpi_bindings`` (keys from ``services.goals.bindings``):
- ``{_id: binding_key, tenant, metric, goal_ids: [...]}``: the goals indexed under one
  (tenant, metric, filter);
- ``{_id: shapes_key, tenant, metric, shapes: [...]}``: the filter shapes in use for a metric.

Kept consistent without multi-document transactions by ordering the writes around the goal's
versioned save (``GoalRepository.save``): keys a goal gains are added *before* the goal is
saved, keys it loses are removed *after*. A crash in between leaves a binding that points to a
goal no longer bound, never a bound goal without its binding; a stale binding is harmless
because the goal itself re-checks status and filters (``Goal.apply_datapoint``), and one that
points to a finished goal is removed by the first point that finds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.goals.bindings import keys_for_point, shapes_key
from shared.mongo import Document

BINDINGS = "goal_kpi_bindings"


class BindingIndex:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.bindings = db[BINDINGS]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        # lookups are by _id; this one serves listing and clean-up per tenant on MongoDB
        return {BINDINGS: [IndexModel([("tenant", ASCENDING), ("metric", ASCENDING)])]}

    async def bind(self, tenant: str, goal_id: str, keys: Mapping[str, tuple[str, str]]) -> None:
        """Index the goal under ``keys`` (key -> (metric, shape)); idempotent."""
        for metric, shape in sorted(set(keys.values())):
            # the shape first: a point that sees the binding must also be able to find it
            await self.bindings.update_one(
                {"_id": shapes_key(tenant, metric), "tenant": tenant},
                {"$set": {"metric": metric}, "$addToSet": {"shapes": shape}},
                upsert=True,
            )
        for key, (metric, _) in sorted(keys.items()):
            await self.bindings.update_one(
                {"_id": key, "tenant": tenant},
                {"$set": {"metric": metric}, "$addToSet": {"goal_ids": goal_id}},
                upsert=True,
            )

    async def unbind(self, tenant: str, goal_id: str, keys: Iterable[str]) -> None:
        for key in sorted(keys):
            # the filter carries tenant as well as _id: FerretDB 1.24 scans the collection for
            # an update filtered on _id alone, and finds the document directly with both
            await self.bindings.update_one(
                {"_id": key, "tenant": tenant}, {"$pullAll": {"goal_ids": [goal_id]}}
            )

    async def goal_ids_for_points(
        self, tenant: str, points: Sequence[tuple[str, Mapping[str, str]]]
    ) -> list[dict[str, list[str]]]:
        """Goal ids indexed under a binding each (metric, dimensions) matches, by binding key:
        two reads by ``_id`` for the whole run (the keys name the tenant)."""
        metric_of = {shapes_key(tenant, metric): metric for metric, _ in points}
        shapes_of = {
            metric_of[doc["_id"]]: doc.get("shapes", [])
            async for doc in self.bindings.find({"_id": {"$in": sorted(metric_of)}}, {"shapes": 1})
        }
        keys_of = [
            keys_for_point(tenant, metric, dimensions, shapes_of[metric])
            if metric in shapes_of
            else []
            for metric, dimensions in points
        ]
        wanted = sorted({key for keys in keys_of for key in keys})
        goal_ids: dict[str, list[str]] = {}
        if wanted:
            async for doc in self.bindings.find({"_id": {"$in": wanted}}, {"goal_ids": 1}):
                goal_ids[doc["_id"]] = list(doc.get("goal_ids", []))
        return [{k: goal_ids[k] for k in keys if k in goal_ids} for keys in keys_of]
