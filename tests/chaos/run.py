"""``make chaos``: every fault scenario on private servers, a table, non-zero if any failed.

python -m tests.chaos.run                      # all scenarios, full durations (20 s outages)
python -m tests.chaos.run --only broker-outage # one (or several, comma-separated)
python -m tests.chaos.run --reduced            # the shortened set `make test` runs
python -m tests.chaos.run --scale 0.5          # full loads, durations halved
python -m tests.chaos.run --list
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
import traceback
from collections.abc import Sequence

from tests.chaos.base import FULL, REDUCED, Profile, Result, Scenario
from tests.chaos.harness import ChaosError, Cluster, log
from tests.chaos.scenarios_consumers import document_store_outage, kill_goals, poison_records
from tests.chaos.scenarios_ingest import (
    broker_outage,
    duplicates_and_reordering,
    kill_ingest,
    signatures,
)
from tests.chaos.scenarios_replicas import two_notification_replicas, two_replicas
from tests.chaos.scenarios_webhooks import webhook_receiver

# the whole run stays under 11 minutes with the servers' start and stop
TOTAL_S = 600.0

# name -> (scenario, title, time budget in seconds at full durations)
SCENARIOS: dict[str, tuple[Scenario, str, float]] = {
    "duplicates": (duplicates_and_reordering, "duplicates and reordered deliveries", 150),
    "signatures": (signatures, "forged, stale and replayed signatures -> 401", 60),
    "kill-ingest": (kill_ingest, "kill -9 of kpi_ingest under load", 120),
    "kill-goals": (kill_goals, "kill -9 of goals mid-stream, then restart", 150),
    "broker-outage": (broker_outage, "the broker stopped under load", 200),
    "store-outage": (document_store_outage, "the document store stopped", 200),
    "poison": (poison_records, "poison records land in the DLQ, nothing else", 100),
    "webhook-receiver": (webhook_receiver, "a webhook receiver answering 500/429/timeout", 150),
    "two-replicas": (two_replicas, "two replicas of ingest and goals, one of each killed", 180),
    "two-notifications": (
        two_notification_replicas,
        "two replicas of notifications, one killed mid-stream",
        120,
    ),
}


async def run_one(
    cluster: Cluster, name: str, profile: Profile, budget_left: float | None = None
) -> Result:
    scenario, title, budget = SCENARIOS[name]
    if budget_left is not None:
        budget = min(budget, budget_left)
    result = Result(name, title)
    before = len(cluster.services)
    started = time.monotonic()
    print(f"\n== {name}: {title}", flush=True)
    try:
        await asyncio.wait_for(scenario(cluster, profile, result), budget)
        result.passed = not result.failures
    except TimeoutError:
        result.failures.append(f"did not finish within its {budget:.0f}s budget")
    except ChaosError as exc:
        result.failures.append(str(exc))
    except Exception as exc:
        traceback.print_exc()
        result.failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        for svc in cluster.services[before:]:
            if not result.passed and svc.process is not None:
                log(f"{svc.label} log tail:\n{svc.tail(15)}")
            await svc.stop()
        del cluster.services[before:]
        # a scenario that stopped a server and failed before restarting it
        if cluster.kafka_proc is None or not cluster.kafka_proc.alive():
            await cluster.start_broker()
        if cluster.store_proc is None or not cluster.store_proc.alive():
            await cluster.start_store()
        result.seconds = time.monotonic() - started
    print(result.summary(), flush=True)
    return result


async def run(
    names: Sequence[str], profile: Profile, keep: bool = False, total_s: float = TOTAL_S
) -> list[Result]:
    """Each scenario within its own budget and all of them within ``total_s``."""
    deadline = time.monotonic() + total_s
    results = []
    async with Cluster(keep=keep) as cluster:
        for name in names:
            left = deadline - time.monotonic()
            if left < 20:
                skipped = Result(name, SCENARIOS[name][1])
                skipped.failures.append(f"not run: the {total_s:.0f}s total was spent")
                results.append(skipped)
                continue
            results.append(await run_one(cluster, name, profile, left))
    return results


def table(results: Sequence[Result], total_s: float) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"{'scenario':<{width}}  result  time  counts", "-" * 100]
    for r in results:
        counts = ", ".join(f"{k}={v}" for k, v in r.counts.items())
        mark = "PASS" if r.passed else "FAIL"
        lines.append(f"{r.name:<{width}}  {mark:<6} {r.seconds:4.0f}s  {counts}")
        for failure in r.failures:
            lines.append(f"{'':<{width}}    - {failure}")
    passed = sum(r.passed for r in results)
    lines.append("-" * 100)
    lines.append(f"{passed}/{len(results)} passed in {total_s:.0f}s")
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.chaos.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", help="comma-separated scenario names (see --list)")
    parser.add_argument("--reduced", action="store_true", help="short outages, small loads")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply outages and phases")
    parser.add_argument(
        "--total", type=float, default=TOTAL_S, help="seconds for all scenarios together"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    args = parser.parse_args(argv)
    if args.list:
        for name, (_, title, _budget) in SCENARIOS.items():
            print(f"{name:<18} {title}")
        return 0
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; see --list")
    profile = REDUCED if args.reduced else FULL
    if args.scale != 1.0:
        profile = profile.scaled(args.scale)
    print(f"chaos: {len(names)} scenario(s), profile {profile}", flush=True)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)  # stop what we started on `kill` too
    results = asyncio.run(run(names, profile, keep=args.keep, total_s=args.total))
    print("\n" + table(results, time.monotonic() - started), flush=True)
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
