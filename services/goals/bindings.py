"""Where a KPI data point finds the goals it may move: binding keys (pure, no I/O).

A key result bound to ``metric`` with filters F matches a point of that metric whose dimensions
hold every pair of F. The store indexes each draft or active goal under one key per bound key
result, ``[tenant, metric, sorted F]`` as compact JSON (unambiguous whatever names and values
contain), so a lookup by ``_id`` equality finds it: the one filter FerretDB 1.x evaluates in its
backend instead of scanning every document.

A point cannot guess which filters exist, and trying every subset of its dimensions would cost
2^n lookups (kpi-ingest allows 16 dimensions: 65,536). So the store also keeps, per tenant and
metric, the *shapes* in use (the sorted filter names, e.g. ``["product", "region"]``); a point
looks up one key per shape its dimensions cover. Its cost is 1 + (shapes it covers) reads by
``_id``: bounded by the tenant's distinct filter shapes, not by its goals, its dimensions or
the goals' history. Shapes are only ever added (a shape no goal uses any more costs one empty
lookup, never a wrong result).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from services.goals.domain import Goal


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def binding_key(tenant: str, metric: str, filters: Mapping[str, str]) -> str:
    return _compact([tenant, metric, sorted(filters.items())])


def shapes_key(tenant: str, metric: str) -> str:
    return _compact([tenant, metric])


def shape_of(filters: Mapping[str, str]) -> str:
    return _compact(sorted(filters))


def keys_for_point(
    tenant: str, metric: str, dimensions: Mapping[str, str], shapes: Iterable[str]
) -> list[str]:
    """The binding keys a point of these dimensions matches, one per shape it covers."""
    keys = []
    for shape in shapes:
        names: list[str] = json.loads(shape)
        if all(name in dimensions for name in names):
            keys.append(binding_key(tenant, metric, {name: dimensions[name] for name in names}))
    return keys


def goal_bindings(goal: Goal) -> dict[str, tuple[str, str]]:
    """Binding key -> (metric, shape) for each KPI-bound key result of a draft or active goal.

    A finished goal no longer moves with data points (``Goal.apply_datapoint``), so it is
    indexed nowhere.
    """
    if goal.status in ("achieved", "abandoned"):
        return {}
    return {
        binding_key(goal.tenant, kr.kpi.metric, kr.kpi.filters): (
            kr.kpi.metric,
            shape_of(kr.kpi.filters),
        )
        for kr in goal.key_results.values()
        if kr.kpi is not None
    }
