"""``make bench``: every benchmark against ceilings measured in the same run, in one table.

Against the stack of ``make up`` (web and the services on 127.0.0.1:8000..8006, Kafka, the
document store), one after the other so they do not compete for the cores:
1. KPI ingest beside a bare FastAPI endpoint and a bare aiokafka producer (``bench_kpi_ingest``);
2. end-to-end latency webhook 202 → goal progress → inbox item at a fixed, open-loop arrival
   rate (``e2e_latency``);
3. one event fanned out to 10,000 inboxes beside a bare bulk insert (``bench_fanout``);
4. the web dashboard of a person with 50 goals beside the page's API calls made directly
   (``bench_web``);
5. the peak RSS (VmHWM) of every process of the stack.
A ceiling a sub-bench could not measure is measured here (``ceilings``). Each part runs in its
own process with a time limit inside one overall budget (default 750 s); the table and
``bench-results/bench.json`` say what ran, what failed and why. Nothing here is an assertion: the
exit status is non-zero only when a part produced no result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.bench.ceilings import bare_insert_docs_per_s, ceilings_from, measure_missing

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench-results"
PIDS = REPO / ".run" / "pids"
SERVICES = {
    "web": 8000,
    "people": 8001,
    "goals": 8002,
    "feedback": 8003,
    "kpi_ingest": 8004,
    "notifications": 8005,
    "reviews": 8006,
}
STACK_EXTRAS = ("kafka", "docstore", "mailsink")


def preflight() -> str | None:
    for name, port in SERVICES.items():
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                continue
        except httpx.HTTPError:
            pass
        return f"{name} is not ready on 127.0.0.1:{port}; run `make up` first"
    return None


def run_part(module: str, args: list[str], out: Path, timeout: float) -> dict[str, Any]:
    """Run ``python -m module`` (output shown as it goes), then read the JSON it wrote."""
    print(f"\n=== {module} (limit {timeout:.0f} s)", flush=True)
    if timeout < 20:
        return {"ok": False, "error": "no time left in the budget", "seconds": 0.0}
    out.unlink(missing_ok=True)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--out", str(out), *args],
        cwd=REPO,
        start_new_session=True,  # its children (uvicorn) are stopped with it on a timeout
    )
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        return {"ok": False, "error": f"timed out after {timeout:.0f} s", "seconds": timeout}
    seconds = round(time.monotonic() - started, 1)
    if rc != 0 or not out.exists():
        return {"ok": False, "error": f"exited with {rc}", "seconds": seconds}
    return {"ok": True, "result": json.loads(out.read_text()), "seconds": seconds}


async def small_insert() -> dict[str, Any]:
    """The store's own ceiling: 5,000 small documents under one index, beside the fan-out's."""
    try:
        value = await asyncio.wait_for(bare_insert_docs_per_s(), 60)
    except Exception as exc:  # reported, not fatal
        return {"value": None, "by": f"failed: {type(exc).__name__}: {exc}"[:200]}
    return {"value": value, "by": "run.py: 5,000 small documents, one secondary index"}


def peak_rss() -> dict[str, dict[str, Any]]:
    """VmHWM (the resident set's high-water mark since start) of each process of the stack."""
    found: dict[str, dict[str, Any]] = {}
    for name in (*SERVICES, *STACK_EXTRAS):
        pid_file = PIDS / f"{name}.pid"
        try:
            pid = int(pid_file.read_text().strip())
            status = Path(f"/proc/{pid}/status").read_text()
        except (OSError, ValueError):
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        found[name] = {
            "pid": pid,
            "vm_hwm_mib": round(int(fields["VmHWM"].split()[0]) / 1024, 1),
            "vm_rss_mib": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
            "service": name in SERVICES,
        }
    return found


# ------------------------------------------------------------------ the table


def _n(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, ceiling: float | None) -> str:
    return "n/a" if not value or not ceiling else f"{value / ceiling:.2f}"


def rows(report: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    c = {k: v.get("value") for k, v in report["ceilings"].items()}
    out: list[tuple[str, str, str, str, str]] = [
        ("ceiling", "bare FastAPI endpoint", f"{_n(c.get('bare_fastapi_rps'))} req/s", "", ""),
        (
            "ceiling",
            "bare aiokafka producer (acks=all, idempotent)",
            f"{_n(c.get('bare_producer_records_per_s'))} records/s",
            "",
            "",
        ),
        (
            "ceiling",
            "bare bulk insert, the fan-out's documents",
            f"{_n(c.get('bare_insert_docs_per_s'))} docs/s",
            "",
            "",
        ),
        (
            "ceiling",
            "bare bulk insert, small documents",
            f"{_n(c.get('bare_insert_small_docs_per_s'))} docs/s",
            "",
            "",
        ),
    ]
    kpi = report["parts"]["kpi_ingest"].get("result")
    if kpi:
        out += [
            (
                "kpi ingest",
                "single-point signed webhooks",
                f"{_n(kpi['single_point_rps'])} req/s",
                "bare FastAPI endpoint",
                _ratio(kpi["single_point_rps"], c.get("bare_fastapi_rps")),
            ),
            (
                "kpi ingest",
                "1,000-point signed batches",
                f"{_n(kpi['batch_points_per_s'])} points/s",
                "bare aiokafka producer",
                _ratio(kpi["batch_points_per_s"], c.get("bare_producer_records_per_s")),
            ),
        ]
    else:
        out.append(("kpi ingest", "FAILED", report["parts"]["kpi_ingest"]["error"], "", ""))
    e2e = report["parts"]["e2e_latency"].get("result")
    if e2e:
        arrival = f"e2e @ {_n(e2e.get('achieved_rate_per_s'), 2)}/s open loop"
        for key, name in (
            ("webhook_202", "webhook sent → 202"),
            ("to_goal_progress", "202 → goal progress (goals topic)"),
            ("to_inbox_item", "202 → owner's inbox item (SSE)"),
        ):
            s = e2e[key]
            out.append(
                (
                    arrival,
                    f"{name} p50/p95/p99",
                    f"{_n(s['p50_ms'])}/{_n(s['p95_ms'])}/{_n(s['p99_ms'])} ms",
                    f"n={s['n']}/{e2e['points']}, max {_n(s['max_ms'])} ms",
                    "",
                )
            )
        util = ", ".join(f"{k} {v:.0%}" for k, v in e2e["consumer_utilization"].items())
        lag = e2e["resolution_ms"]["event_loop_lag_p99"]
        out.append((arrival, "consumers busy (handler time / window)", util, "", ""))
        out.append((arrival, "resolution: bench event-loop lag p99", f"{_n(lag, 1)} ms", "", ""))
    else:
        out.append(("e2e latency", "FAILED", report["parts"]["e2e_latency"]["error"], "", ""))
    fan = report["parts"]["fanout"].get("result")
    if fan:
        docs = fan.get("documents_written")
        took = fan.get("fanout_seconds")
        rate = docs / took if docs and took else None
        out.append(
            (
                "fan-out",
                f"1 event → {_n(fan.get('recipients'))} inboxes ({_n(docs)} documents)",
                f"{_n(took, 2)} s = {_n(rate)} docs/s",
                f"bare insert of them {_n(fan.get('bare_insert_seconds'), 2)} s",
                _ratio(rate, c.get("bare_insert_docs_per_s")),
            )
        )
        if fan.get("redelivery_seconds") is not None:
            out.append(
                (
                    "fan-out",
                    "redelivery of the same event (writes nothing)",
                    f"{_n(fan['redelivery_seconds'], 2)} s",
                    "",
                    "",
                )
            )
    else:
        out.append(("fan-out", "FAILED", report["parts"]["fanout"]["error"], "", ""))
    web = report["parts"]["web"].get("result")
    if web:
        page, apis = web["page"], web["apis"]
        out.append(
            (
                "web",
                f"GET / with {web['goals']} goals, p50 / p95 / p99",
                f"{page['p50_ms']} / {page['p95_ms']} / {page['p99_ms']} ms",
                f"its API calls direct: p95 {apis['p95_ms']} ms",
                f"{web['ratio']}",
            )
        )
    else:
        out.append(("web", "FAILED", report["parts"]["web"]["error"], "", ""))
    runs = report["parts"]["consumer_runs"].get("result")
    if runs:
        rate = runs["points_per_s"]
        out += [
            (
                "goals consumer",
                f"{_n(runs['points'])} points on {_n(runs['goals'])} goals, one by one",
                f"{_n(rate['one by one'])} points/s",
                f"bare runner {_n(rate['ceiling'])} points/s",
                f"{runs['one_by_one_vs_ceiling']}",
            ),
            (
                "goals consumer",
                "the same, in runs of up to 100",
                f"{_n(rate['runs'])} points/s = {runs['runs_vs_one_by_one']} x one by one",
                f"bare runner {_n(rate['ceiling'])} points/s",
                f"{runs['runs_vs_ceiling']}",
            ),
        ]
    else:
        out.append(("goals consumer", "FAILED", report["parts"]["consumer_runs"]["error"], "", ""))
    for name, rss in report["peak_rss"].items():
        kind = "peak RSS" if rss["service"] else "peak RSS (infra)"
        out.append(
            (kind, name, f"{rss['vm_hwm_mib']:,.1f} MiB", f"now {rss['vm_rss_mib']} MiB", "")
        )
    return out


def table(report: dict[str, Any]) -> str:
    header = ("area", "measure", "result", "against", "ratio")
    body = rows(report)
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(5)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in body)])


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--budget", type=float, default=900.0, help="seconds for everything")
    parser.add_argument("--rate", type=float, default=0.5, help="e2e arrivals per second")
    parser.add_argument("--goals", type=int, default=15, help="e2e goals (4 points each)")
    parser.add_argument("--recipients", type=int, default=10_000, help="fan-out inboxes")
    args = parser.parse_args(argv)
    started = time.monotonic()
    problem = preflight()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    RESULTS.mkdir(exist_ok=True)

    def left(cap: float) -> float:
        return float(min(cap, args.budget - (time.monotonic() - started) - 30))

    parts: dict[str, dict[str, Any]] = {}
    parts["kpi_ingest"] = run_part(
        "tests.bench.bench_kpi_ingest", [], RESULTS / "kpi_ingest.json", left(180)
    )
    parts["e2e_latency"] = run_part(
        "tests.bench.e2e_latency",
        ["--rate", str(args.rate), "--goals", str(args.goals)],
        RESULTS / "e2e_latency.json",
        left(240),
    )
    parts["fanout"] = run_part(
        "tests.bench.bench_fanout",
        ["--recipients", str(args.recipients)],
        RESULTS / "fanout.json",
        left(240),
    )
    parts["web"] = run_part("tests.bench.bench_web", [], RESULTS / "web.json", left(180))
    parts["consumer_runs"] = run_part(
        "tests.bench.bench_consumer_runs",
        ["--goals", "300", "--points", "1500", "--rounds", "1"],
        RESULTS / "consumer_runs.json",
        left(240),
    )
    found = ceilings_from(parts["kpi_ingest"].get("result"), parts["fanout"].get("result"))
    if len(found) < 3:
        print("\n=== measuring the missing ceilings", flush=True)
        found = asyncio.run(measure_missing(found))
    print("\n=== bare bulk insert of small documents", flush=True)
    found["bare_insert_small_docs_per_s"] = asyncio.run(small_insert())
    report: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "seconds": round(time.monotonic() - started, 1),
        "ceilings": found,
        "parts": parts,
        "peak_rss": peak_rss(),
    }
    (RESULTS / "bench.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nNorthstar bench, {report['measured_at'][:19]}Z, {report['cpus']} CPUs, loopback")
    print(table(report))
    print(
        f"\n{report['seconds']:.0f} s in all; load average at the end "
        f"{', '.join(f'{x:.1f}' for x in report['load_average_at_end'])}; "
        f"written to {RESULTS / 'bench.json'}"
    )
    return 0 if all(p["ok"] for p in parts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
