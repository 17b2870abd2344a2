"""Benchmark: document stores on the goals workload -- throughput, pushdown, lost updates.

Run: ``.venv/bin/python -m tests.bench.bench_store [NAME=]URI ...`` (e.g.
``sqlite=mongodb://127.0.0.1:27017/ pg=mongodb://127.0.0.1:18017/``). For each store it seeds
goal-like documents (``tenant``, ``status``, ``bound_metrics``, ``version``, ``applied_ids``, a
~2 KB body) with the goals service's indexes and measures:

- lookups: ``_id`` alone, ``{_id, tenant}`` (what the services send), the bound-goals filter
  ``{tenant, status, bound_metrics}``, ``_id $in`` of 8 ids; median latency, hits, and whether
  the store says it pushed the filter down (FerretDB's ``explain``: ``filterPushdown``) and
  whether PostgreSQL's plan uses an index;
- versioned updates as the services write them: read, then ``{_id, tenant, version,
  applied_ids $ne}`` -> ``$set`` + ``$push`` + ``$inc version``; sequential and 50 at once;
- lost updates, counted exactly, with two separate processes (two replicas) through the same
  ``shared.mongo.open_database`` the services use (so FerretDB's in-process write lock is on):
  (a) both increment one counter with ``$inc``; (b) both apply versioned read-modify-write
  updates to one document, retrying a lost race (matched 0) and transient errors as the consumer
  runner does: every update a worker saw succeed must show in the document (``count`` and
  ``applied_ids``); (c) both update their own documents (no shared document): errors only.

A store is safe for several replicas when (a) and (b) lose nothing. Results are printed as a
table and written to ``bench-results/store.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.errors import PyMongoError

from shared.messaging.consumer import is_transient
from shared.mongo import open_database

# one database per run, so two runs against one store cannot drop each other's documents
DB = f"bench_store_{os.getpid()}"
TENANTS = 5
METRICS = 10
HOT = "hot"


def _goal(i: int, pad: str) -> dict[str, Any]:
    return {
        "_id": f"g{i:06d}",
        "tenant": f"t{i % TENANTS}",
        "owner_id": f"p{i // 5:05d}",
        "status": "active" if i % 4 else "completed",
        "bound_metrics": [f"m{i % METRICS}", f"m{(i + 3) % METRICS}"],
        "version": 0,
        "count": 0,
        "applied_ids": [],
        "key_results": {"kr1": {"current": 0.0, "target": 100.0}},
        "body": pad,
    }


async def _median_ms(call: Any, repeat: int) -> tuple[float, Any]:
    times, last = [], None
    for i in range(repeat):
        started = time.perf_counter()
        last = await call(i)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, last


async def _explain(db: Any, filter_: dict[str, Any]) -> dict[str, Any]:
    """Pushdown as the store reports it (FerretDB), and whether PostgreSQL used an index."""
    try:
        plan = await db.command({"explain": {"find": "goals", "filter": filter_}})
    except PyMongoError as exc:
        return {"error": str(exc)[:80]}
    text = json.dumps(plan.get("queryPlanner", {}), default=str)
    return {
        "pushdown": plan.get("filterPushdown"),
        "index_scan": "Index Scan" in text or "Bitmap Index" in text,
    }


async def seed_and_read(uri: str, n_docs: int, pad_bytes: int) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        await client.drop_database(DB)
        db = client[DB]
        for keys in (
            [("tenant", ASCENDING), ("status", ASCENDING), ("bound_metrics", ASCENDING)],
            [("tenant", ASCENDING), ("owner_id", ASCENDING), ("status", ASCENDING)],
        ):
            await db.goals.create_indexes([IndexModel(keys)])
        pad = "x" * pad_bytes
        docs = [_goal(i, pad) for i in range(n_docs)]
        started = time.perf_counter()
        for i in range(0, n_docs, 500):
            await db.goals.insert_many(docs[i : i + 500])
        r: dict[str, Any] = {"insert_docs_per_s": n_docs / (time.perf_counter() - started)}
        lean = {"body": 0}
        queries: dict[str, Any] = {
            "id": lambda i: {"_id": f"g{(i * 7) % n_docs:06d}"},
            "id_tenant": lambda i: {"_id": f"g{(i * 7) % n_docs:06d}", "tenant": f"t{i * 7 % 5}"},
            "bound_goals": lambda i: {"tenant": "t1", "status": "active", "bound_metrics": "m1"},
            "id_in_8": lambda i: {
                "_id": {"$in": [f"g{(i * 13 + k) % n_docs:06d}" for k in range(8)]}
            },
        }
        repeats = {"id": 100, "id_tenant": 100, "bound_goals": 10, "id_in_8": 10}
        for name, make in queries.items():

            async def run(i: int, make: Any = make) -> int:
                return len([d async for d in db.goals.find(make(i), lean)])

            ms, hits = await _median_ms(run, repeats[name])
            r[f"{name}_ms"] = ms
            r[f"{name}_hits"] = hits
            r[f"{name}_plan"] = await _explain(db, make(1))
        r.update(await versioned_updates(db, n_docs))
        return r
    finally:
        await client.close()


async def versioned_updates(db: Any, n_docs: int) -> dict[str, Any]:
    """The services' write: load, then a version- and guard-filtered update; in-process only."""

    async def update(i: int) -> bool:
        goal_id, tenant = f"g{i:06d}", f"t{i % TENANTS}"
        doc = await db.goals.find_one({"_id": goal_id, "tenant": tenant}, {"body": 0})
        event_id = f"e{i}-{doc['version']}"
        result = await db.goals.update_one(
            {
                "_id": goal_id,
                "tenant": tenant,
                "version": doc["version"],
                "applied_ids": {"$ne": event_id},
            },
            {
                "$set": {"key_results.kr1.current": float(i), "count": doc["count"] + 1},
                "$push": {"applied_ids": {"$each": [event_id]}},
                "$inc": {"version": 1},
            },
        )
        return bool(result.matched_count)

    n = min(300, n_docs // 2)
    started = time.perf_counter()
    for i in range(n):
        await update(i)
    r: dict[str, Any] = {"versioned_updates_seq_per_s": n / (time.perf_counter() - started)}
    errors: list[str] = []

    async def guarded(i: int) -> None:
        try:
            await update(i)
        except PyMongoError as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:60]}")

    started = time.perf_counter()
    for j in range(n, 2 * n, 50):
        await asyncio.gather(*(guarded(j + k) for k in range(50)))
    r["versioned_updates_conc50_per_s"] = n / (time.perf_counter() - started)
    r["versioned_updates_conc50_errors"] = len(errors)
    if errors:
        r["versioned_updates_conc50_error"] = errors[0]
    return r


# --------------------------------------------------------------------------- two processes


async def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One replica: ``tasks`` coroutines doing ``ops`` updates each, from ``start_at`` on."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(spec["uri"], tz_aware=True)
    # db["goals"] as the services write it: attribute access would bypass FerretDB's write lock
    goals = (await open_database(client, spec["db"], "auto"))["goals"]
    stats = {"ok": 0, "conflicts": 0, "transient": 0, "fatal": 0}
    fatal: list[str] = []
    name, mode = spec["name"], spec["mode"]

    async def one(task: int, op: int) -> None:
        op_id = f"{name}-{task}-{op}"
        goal_id = HOT if mode != "own_docs" else f"g{spec['offset'] + task * spec['ops'] + op:06d}"
        for _attempt in range(200):
            try:
                if mode == "inc":
                    await goals.update_one({"_id": HOT}, {"$inc": {"count": 1}})
                    stats["ok"] += 1
                    return
                doc = await goals.find_one({"_id": goal_id}, {"body": 0})
                assert doc is not None  # seeded before the workers start
                result = await goals.update_one(
                    {"_id": goal_id, "version": doc["version"], "applied_ids": {"$ne": op_id}},
                    {
                        "$set": {"count": doc["count"] + 1},
                        "$push": {"applied_ids": {"$each": [op_id]}},
                        "$inc": {"version": 1},
                    },
                )
            except PyMongoError as exc:
                if is_transient(exc):
                    stats["transient"] += 1
                    continue
                stats["fatal"] += 1
                fatal.append(f"{type(exc).__name__}: {str(exc)[:100]}")
                return
            if result.matched_count:
                stats["ok"] += 1
                return
            stats["conflicts"] += 1  # a lost optimistic race: reload and try again
        stats["fatal"] += 1

    # both processes start their load at the same instant, after both have connected
    await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
    started = time.perf_counter()

    async def task_loop(task: int) -> None:
        for op in range(spec["ops"]):
            await one(task, op)

    await asyncio.gather(*(task_loop(t) for t in range(spec["tasks"])))
    elapsed = time.perf_counter() - started
    await client.close()
    return {**stats, "seconds": elapsed, "fatal_example": fatal[:1]}


async def replicas(
    uri: str, mode: str, processes: int, tasks: int, ops: int, n_docs: int
) -> dict[str, Any]:
    """``processes`` workers (replicas) at once; ``lost`` counts updates they saw succeed but
    the document does not show."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        goals = client[DB].goals
        await goals.delete_one({"_id": HOT})
        await goals.insert_one(
            {"_id": HOT, "tenant": "t0", "version": 0, "count": 0, "applied_ids": []}
        )
        before = await goals.find({}, {"count": 1}).to_list(None) if mode == "own_docs" else []
        start_at = time.time() + 2.0  # lets both interpreters import and connect first
        procs = []
        for p in range(processes):
            spec = {
                "uri": uri,
                "name": f"r{p}",
                "mode": mode,
                "tasks": tasks,
                "ops": ops,
                "offset": p * (n_docs // 2),
                "db": DB,
                "n_docs": n_docs,
                "start_at": start_at,
            }
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "tests.bench.bench_store",
                    "--worker",
                    json.dumps(spec),
                    stdout=asyncio.subprocess.PIPE,
                )
            )
        outs = [
            json.loads((await p.communicate())[0].decode().strip().splitlines()[-1]) for p in procs
        ]
        ok = sum(o["ok"] for o in outs)
        r: dict[str, Any] = {
            "ok": ok,
            "conflicts_retried": sum(o["conflicts"] for o in outs),
            "transient_retried": sum(o["transient"] for o in outs),
            "fatal": sum(o["fatal"] for o in outs),
            "fatal_example": next((o["fatal_example"][0] for o in outs if o["fatal_example"]), ""),
            "updates_per_s": ok / max(o["seconds"] for o in outs),
        }
        if mode == "own_docs":
            after = await goals.find({}, {"count": 1}).to_list(None)
            gained = sum(d["count"] for d in after) - sum(d["count"] for d in before)
            r["lost"] = ok - gained
        else:
            hot = await goals.find_one({"_id": HOT})
            assert hot is not None
            r["lost"] = ok - hot["count"]
            if mode == "versioned":
                r["missing_applied_ids"] = ok - len(set(hot["applied_ids"]))
                r["final_version"] = hot["version"]
        return r
    finally:
        await client.close()


# (mode, processes, tasks per process, updates per task): one process first, where FerretDB's
# in-process write lock (shared.mongo) is what protects a document; then two replicas. Versioned
# updates of one document run one task per process, so no write waits behind its own lock and
# every lost update is a race between the two processes inside the store.
RUNS = (
    ("inc", 1, 20, 50),
    ("versioned", 1, 5, 20),
    ("inc", 2, 10, 100),
    ("versioned", 2, 1, 300),
    ("own_docs", 2, 10, 20),
)


async def bench(uri: str, n_docs: int, pad_bytes: int, scale: float) -> dict[str, Any]:
    r = await seed_and_read(uri, n_docs, pad_bytes)
    for mode, processes, tasks, ops in RUNS:
        key = f"{'one' if processes == 1 else 'two'}_proc_{mode}"
        r[key] = await replicas(uri, mode, processes, tasks, max(1, round(ops * scale)), n_docs)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    await client.drop_database(DB)
    await client.close()
    return r


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, dict):
        return " ".join(f"{k}={_fmt(v)}" for k, v in value.items() if v not in ("", None))
    return str(value)


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    keys = [k for k in results[names[0]] if not k.endswith("_error")]
    lines = ["| measure | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for key in keys:
        lines.append(
            f"| {key} | " + " | ".join(_fmt(results[n].get(key, "")) for n in names) + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("stores", nargs="*", help="[NAME=]mongodb://... one per store")
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--pad", type=int, default=2000, help="bytes of body per document")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the updates per run")
    parser.add_argument("--out", type=Path, default=Path("bench-results/store.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(asyncio.run(worker(json.loads(args.worker)))), flush=True)
        return 0
    if not args.stores:
        parser.error("name at least one store URI")
    results: dict[str, dict[str, Any]] = {}
    for spec in args.stores:
        name, _, uri = spec.partition("=") if "=" in spec.split("://")[0] else ("", "", spec)
        name = name or uri
        print(f"{name}: {uri} ...", flush=True)
        results[name] = asyncio.run(bench(uri, args.docs, args.pad, args.scale))
        print(json.dumps(results[name], default=str), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    print(table(results))
    unsafe = [
        n
        for n, r in results.items()
        if r["two_proc_inc"]["lost"] or r["two_proc_versioned"]["lost"]
    ]
    print("\nlost updates across two processes on: " + (", ".join(unsafe) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
