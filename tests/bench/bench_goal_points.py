"""Benchmark: the cost of applying one KPI data point to goals, against its store ceiling.

Run: ``.venv/bin/python -m tests.bench.bench_goal_points`` (needs the document store at
``MONGODB_URI``; no Kafka, no HTTP: the real ``GoalRepository``/``GoalReactions`` in process).

Two questions, each answered beside a ceiling measured in the same run, on the same store:

- **history**: one goal (a ``sum`` key result) at its 1,000th and its 100,000th point. Applying
  99,999 points one by one would take the run's whole budget, so the history those points leave
  behind is seeded directly (``seed_history``: the timeline entries and the applied-id guards,
  exactly as the repository stores them; the "before" figures of the commit that moved the
  timeline came from this file's first version, which seeded the embedded timeline and the
  unbounded ``applied_ids`` of that time and reported a size the store refuses), then
  ``--points`` more points are applied through ``GoalReactions.apply_datapoint`` and timed.
  Ceiling: a bare ``find_one`` + ``update_one`` (by ``_id`` and ``tenant``) of a copy of that
  goal's document as it then is.
- **tenant size**: 100 vs 5,000 active goals bound to the same metric, each with its own
  dimension filter (``team``); every point carries ``team`` and ``region`` and matches one
  goal. Goals and their bindings are stored in bulk exactly as ``GoalRepository.insert`` writes
  them (``seed_goals``). Ceiling: the same bare read + update of one goal's document in the
  same collection.

It prints the mean and p50 per-point cost, the ceiling and their ratio, and writes
``bench-results/goal_points.json``. ``--history`` and ``--goals`` make the sizes configurable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.goals.bindings import goal_bindings, shapes_key
from services.goals.common import GoalStore
from services.goals.domain import Goal
from services.goals.progress import DataPoint, KeyResult, KpiBinding
from services.goals.reactions import GoalReactions
from services.goals.records import (
    APPLIED_WINDOW,
    Applied,
    TimelineEntry,
    applied_digest,
    packed_guards,
)
from services.goals.repository import GOALS, GoalRepository, goal_state, indexes
from services.goals.timeline_repository import TIMELINE, timeline_docs
from shared.mongo import Document, ensure_indexes, open_database

MONGODB_URI = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
TENANT = "bench"
METRIC = "adoption_rate"


def new_goal(goal_id: str, filters: dict[str, str], aggregation: str, now: datetime) -> Goal:
    goal = Goal(
        id=goal_id,
        tenant=TENANT,
        owner_id=f"p-{goal_id}",
        title="Drive adoption",
        horizon="short_term",
        category="outcome",
        key_results={
            "k": KeyResult(
                "k",
                "Adoption",
                0,
                1e12,  # never reached: every point moves the goal and nothing ends it
                0,
                kpi=KpiBinding(METRIC, filters, aggregation),  # type: ignore[arg-type]
            )
        },
        created_at=now,
        updated_at=now,
    )
    goal.change_status("active", by="bench", today=now.date(), now=now)
    return goal


def progress_entry(i: int, now: datetime) -> Document:
    """A timeline entry as one applied point leaves it (same fields and sizes)."""
    return {
        "id": uuid.uuid4().hex,
        "at": now,
        "kind": "progress",
        "old_progress": i / 1e12,
        "new_progress": (i + 1) / 1e12,
        "cause": {
            "kind": "kpi",
            "datapoint_id": f"dp-seed-{i:09d}-{uuid.uuid4().hex[:8]}",
            "source_id": "segment",
            "metric": METRIC,
        },
        "key_results": {"k": float(i + 1)},
        "value": 1.0,
        "timestamp": now.isoformat(),
    }


async def seed_history(db: AsyncDatabase[Document], goal_id: str, points: int) -> str | None:
    """Store what ``points`` applied points leave behind, as the repository stores it: one
    timeline entry each in the timeline collection (seq as consecutive saves number them),
    the newest ``APPLIED_WINDOW`` ids in the goal, and the key result's running sum."""
    now = datetime.now(UTC)
    chunk = 500
    for start in range(0, points, chunk):
        entries = [progress_entry(i, now) for i in range(start, min(points, start + chunk))]
        docs = [
            doc
            for i, entry in enumerate(entries, start=start)
            for doc in timeline_docs(TENANT, goal_id, i + 2, [_entry(entry)])
        ]
        await db[TIMELINE].insert_many(docs, ordered=False)
        if start + chunk >= points:
            window = [e["cause"]["datapoint_id"] for e in entries][-APPLIED_WINDOW:]
    await db[GOALS].update_one(
        {"_id": goal_id, "tenant": TENANT},
        {
            "$set": {
                "applied": packed_guards([Applied(applied_digest(i), now) for i in window]),
                "applied_since": now,
                "key_results.k.current": float(points),
                "version": points + 1,
            }
        },
    )
    return None


def _entry(doc: Document) -> TimelineEntry:
    data = {k: v for k, v in doc.items() if k not in ("id", "at", "kind")}
    return TimelineEntry(doc["id"], doc["at"], doc["kind"], data)


async def seed_goals(repo: GoalRepository, count: int, now: datetime) -> None:
    """Store ``count`` active goals, each on its own ``team`` filter, and their bindings, as
    ``GoalRepository.insert`` writes them (same mapping and keys) but in bulk: one insert per
    goal took longer than the run's budget on a busy shared store."""
    goals = [new_goal(f"g{i:05d}", {"team": f"t{i}"}, "latest", now) for i in range(count)]
    docs = [{"_id": g.id, **goal_state(g), "version": 1, "pending_timeline": []} for g in goals]
    bindings: dict[str, Document] = {}
    for g in goals:
        for key, (metric, shape) in goal_bindings(g).items():
            doc = bindings.setdefault(
                key, {"_id": key, "tenant": TENANT, "metric": metric, "goal_ids": []}
            )
            doc["goal_ids"].append(g.id)
            shapes = bindings.setdefault(
                shapes_key(TENANT, metric),
                {"_id": shapes_key(TENANT, metric), "tenant": TENANT, "shapes": []},
            )
            if shape not in shapes["shapes"]:
                shapes["shapes"].append(shape)
    rows = list(bindings.values())
    for start in range(0, count, 200):  # FerretDB stalled on 1,000-document batches here
        await repo.goals.insert_many(docs[start : start + 200])
    for start in range(0, len(rows), 200):
        await repo.index.bindings.insert_many(rows[start : start + 200])


async def ceiling_ms(db: AsyncDatabase[Document], goal_id: str, rounds: int) -> float:
    """A bare find_one + update_one of a copy of the goal's document, as it is now."""
    doc = await db[GOALS].find_one({"_id": goal_id})
    assert doc is not None
    doc = {**doc, "_id": f"ceiling-{goal_id}", "tenant": "ceiling", "pending_events": []}
    await db[GOALS].insert_one(doc)
    timings = []
    for i in range(rounds):
        started = time.perf_counter()
        found = await db[GOALS].find_one({"_id": doc["_id"], "tenant": "ceiling"})
        assert found is not None
        await db[GOALS].update_one(
            {"_id": doc["_id"], "tenant": "ceiling"}, {"$set": {"progress": i / rounds}}
        )
        timings.append(time.perf_counter() - started)
    await db[GOALS].delete_one({"_id": doc["_id"], "tenant": "ceiling"})
    return statistics.mean(timings) * 1000


async def apply_points(
    reactions: GoalReactions, rounds: int, dimensions: Any, expect_moved: int = 1
) -> list[float]:
    timings = []
    base = datetime.now(UTC)
    for i in range(rounds):
        point = DataPoint(
            id=f"dp-bench-{uuid.uuid4().hex}",
            metric=METRIC,
            value=1.0,
            timestamp=base + timedelta(milliseconds=i),
            source_id="segment",
            dimensions=dimensions(i),
        )
        started = time.perf_counter()
        moved = await reactions.apply_datapoint(TENANT, point)
        timings.append(time.perf_counter() - started)
        assert moved == expect_moved, f"the point moved {moved} goals, expected {expect_moved}"
    return timings


def row(label: str, timings: list[float], ceiling: float) -> Document:
    mean = statistics.mean(timings) * 1000
    return {
        "case": label,
        "points": len(timings),
        "mean_ms": round(mean, 2),
        "p50_ms": round(statistics.median(timings) * 1000, 2),
        "ceiling_ms": round(ceiling, 2),
        "ratio": round(mean / ceiling, 2),
    }


async def scratch() -> tuple[AsyncMongoClient[Document], str, GoalReactions, GoalStore]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(MONGODB_URI, tz_aware=True)
    name = f"bench_{uuid.uuid4().hex[:8]}_goal_points"
    db = await open_database(client, name)
    await ensure_indexes(db, indexes())
    store = GoalStore(GoalRepository(db), default_margin=0.15)
    return client, name, GoalReactions(store), store


async def history_case(points: int, rounds: int) -> Document:
    client, name, reactions, store = await scratch()
    try:
        goal = new_goal("history", {}, "sum", datetime.now(UTC))
        await store.insert(goal)
        refused = await seed_history(store.repo.goals.database, goal.id, points - 1)
        if refused:
            return {"case": f"history: point {points:,}", "refused": refused}
        timings = await apply_points(reactions, rounds, lambda i: {"region": "eu"})
        ceiling = await ceiling_ms(store.repo.goals.database, goal.id, rounds)
        return row(f"history: point {points:,} of one goal", timings, ceiling)
    finally:
        await client.drop_database(name)
        await client.close()


async def tenant_case(goals: int, rounds: int) -> Document:
    client, name, reactions, store = await scratch()
    try:
        await seed_goals(store.repo, goals, datetime.now(UTC))
        timings = await apply_points(
            reactions, rounds, lambda i: {"team": f"t{(i * 7919) % goals}", "region": "eu"}
        )
        ceiling = await ceiling_ms(store.repo.goals.database, "g00000", rounds)
        return row(f"tenant: {goals:,} goals bound to the metric", timings, ceiling)
    finally:
        await client.drop_database(name)
        await client.close()


def show(result: Document) -> None:
    if "refused" in result:
        print(f"{result['case']:<44} not measurable: {result['refused']}", flush=True)
        return
    print(
        f"{result['case']:<44} mean {result['mean_ms']:>9.2f} ms  p50 {result['p50_ms']:>9.2f} ms"
        f"  ceiling {result['ceiling_ms']:>7.2f} ms  ratio {result['ratio']:>7.2f}x",
        flush=True,
    )


async def run(history: list[int], goals: list[int], rounds: int) -> list[Document]:
    results = []
    for points in history:
        results.append(await history_case(points, rounds))
        show(results[-1])
    for count in goals:
        results.append(await tenant_case(count, rounds))
        show(results[-1])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--history", default="1000,100000", help="points of one goal")
    parser.add_argument("--goals", default="100,5000", help="goals bound to the metric")
    parser.add_argument("--points", type=int, default=30, help="points timed per case")
    parser.add_argument("--out", default="bench-results/goal_points.json")
    args = parser.parse_args()
    history = [int(v) for v in args.history.split(",") if v]
    goals = [int(v) for v in args.goals.split(",") if v]
    results = asyncio.run(run(history, goals, args.points))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"results": results, "store": MONGODB_URI.split("@")[-1]}
    out.write_text(json.dumps({**payload, "at": datetime.now(UTC).isoformat()}, indent=2) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
