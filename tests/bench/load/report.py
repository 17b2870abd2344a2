"""The load bench's printed table, and the issue's targets at a sustained 200 points/s."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

TARGET_RATE = 200.0
# issue 13, item 2: at a sustained 200 points/s
TARGETS = (
    ("p99 202 → goal progress", "to_goal_progress", 250.0),
    ("p99 202 → inbox item", "to_inbox_item", 500.0),
)
MAX_DRAIN_S = 2.0


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def _ms(summary: Mapping[str, Any], key: str) -> str:
    value = summary.get(key)
    return "-" if value is None else f"{value:,.0f}"


def _dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _triple(summary: Mapping[str, Any]) -> str:
    return "/".join(_ms(summary, k) for k in ("p50_ms", "p95_ms", "p99_ms"))


def step_line(s: Mapping[str, Any]) -> str:
    st = s["statuses"]
    return (
        f"  {s['rate']:g}/s → achieved {s['achieved_rate']}/s; 202 {st['202']}, 429 {st['429']}, "
        f"503 {st['503']}, 401 {st['401']}, timeouts {st['timeout']}; progress p99 "
        f"{_ms(s['to_goal_progress'], 'p99_ms')} ms, inbox p99 "
        f"{_ms(s['to_inbox_item'], 'p99_ms')} ms; no progress event {s['missing_progress']} "
        f"(never applied {_dash(s.get('missing_never_applied'))}); max lag {s['max_lag']}; drain "
        f"{s['drain_s']} s; {'bounded' if s['bounded'] else 'NOT bounded'}"
    )


def targets(steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each target at 200/s: measured, met or by how much it is missed (None: no such step)."""
    at = next((s for s in steps if float(s["rate"]) == TARGET_RATE), None)
    out: list[dict[str, Any]] = []
    for name, key, limit in TARGETS:
        value = at[key]["p99_ms"] if at else None
        out.append(_target(name, value, limit, "ms"))
    drain = at["drain_s"] if at else None
    out.append(_target("every consumer's lag back to 0 after the step", drain, MAX_DRAIN_S, "s"))
    if at is not None and drain is None:
        out[-1]["note"] = "never back to 0 while the bench waited"
    return out


def _target(name: str, value: float | None, limit: float, unit: str) -> dict[str, Any]:
    if value is None:
        return {"target": name, "limit": limit, "unit": unit, "value": None, "met": False}
    return {
        "target": name,
        "limit": limit,
        "unit": unit,
        "value": value,
        "met": value <= limit,
        "over_by": None if value <= limit else round(value / limit, 2),
    }


def slowest_windows(steps: Sequence[Mapping[str, Any]], top: int = 3) -> list[str]:
    """Each step's slowest windows by their 202 → progress median, with the processes whose
    CPU in that window rose most above their share over the step: what a burst rode on."""
    lines = ["", "slowest windows of each step (202 → progress p50/max; cores above the step's)"]
    for s in steps:
        ranked = sorted(
            (w for w in s.get("windows", []) if w["progress_p50_ms"] is not None),
            key=lambda w: -w["progress_p50_ms"],
        )
        for w in ranked[:top]:
            rises = sorted(
                (
                    (cores - s["cpu_cores"][name]["step"], name)
                    for name, cores in w["cpu"].items()
                    if cores is not None and (s["cpu_cores"].get(name) or {}).get("step")
                ),
                reverse=True,
            )
            above = ", ".join(f"{name} {rise:+.2f}" for rise, name in rises[:3])
            lines.append(
                f"  {s['rate']:g}/s at {w['t_s']:g} s: {_ms(w, 'progress_p50_ms')}/"
                f"{_ms(w, 'progress_max_ms')} ms over {w['n']} points; {above}"
            )
    return lines


def table(r: Mapping[str, Any]) -> str:
    steps = r["steps"]
    pop = r["population"]
    lines = [
        "",
        f"Northstar under sustained load: {r['started_at'][:19]}Z, "
        f"{r['machine']['cpus']} CPUs ({r['machine']['cpu_model']})",
        f"population: {pop['people']} people, {pop['goals']} active goals, "
        f"{pop['key_results']} KPI-bound key results, {pop['sources']} signed sources; "
        f"{pop['crossing_share']:.0%} of matching points cross a milestone, "
        f"{pop['unmatched_share']:.0%} match no goal; inbox latency from "
        f"{pop['watched_inboxes']} open inbox streams",
        "",
        "| points/s | achieved | 202 | 429 | 503 | 401 | timeouts | other "
        "| webhook→202 p50/p95/p99 ms | 202→progress p50/p95/p99 ms (missing/never applied) "
        "| 202→inbox p50/p95/p99 ms (arrived/expected) | drain s | lag bounded |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | --- |",
    ]
    for s in steps:
        st = s["statuses"]
        lines.append(
            f"| {s['rate']:g} | {s['achieved_rate']} | {st['202']} | {st['429']} | {st['503']} "
            f"| {st['401']} | {st['timeout']} | {st['other']} | {_triple(s['webhook_202'])} "
            f"| {_triple(s['to_goal_progress'])} "
            f"({s['missing_progress']}/{_dash(s.get('missing_never_applied'))}) "
            f"| {_triple(s['to_inbox_item'])} ({s['inbox_arrived']}/{s['inbox_expected']}) "
            f"| {_dash(s['drain_s'])} "
            f"| {'yes' if s['bounded'] else 'NO'} |"
        )
    groups = sorted({g for s in steps for g in s["max_lag"]})
    lines += [
        "",
        "largest consumer lag during the step (records; growth per s over its second half)",
        "",
        "| group | " + " | ".join(f"{s['rate']:g}/s" for s in steps) + " |",
        "| --- | " + " | ".join("---:" for _ in steps) + " |",
    ]
    for g in groups:
        cells = [str(s["max_lag"].get(g, "-")) for s in steps]
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    lines.append(
        "| (total growth/s) | "
        + " | ".join("n/a" if (g := s["lag_growth_per_s"]) is None else f"{g:g}" for s in steps)
        + " |"
    )
    names = sorted({n for s in steps for n in s["cpu_cores"]})
    lines += [
        "",
        "CPU of each process, cores (1.0 = one core busy): during the step / while draining",
        "",
        "| process | " + " | ".join(f"{s['rate']:g}/s" for s in steps) + " |",
        "| --- | " + " | ".join("---:" for _ in steps) + " |",
    ]
    for n in names:
        cells = []
        for s in steps:
            c = s["cpu_cores"].get(n)
            cells.append("-" if c is None else f"{c['step']} / {c['drain']}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += slowest_windows(steps)
    knee = r["knee_rate"]
    lines += [
        "",
        "knee: "
        + ("none (lag unbounded from the first step)" if knee is None else f"{knee:g} points/s")
        + " = the highest rate whose lag stayed bounded",
        "",
        f"targets at a sustained {TARGET_RATE:g} points/s (issue 13):",
    ]
    for t in r["targets"]:
        if t["value"] is None:
            why = t.get("note", "not measured (no step at this rate)")
            lines.append(f"  - {t['target']} ≤ {t['limit']:g} {t['unit']}: {why}")
        elif t["met"]:
            lines.append(f"  - {t['target']} ≤ {t['limit']:g} {t['unit']}: met ({t['value']:g})")
        else:
            lines.append(
                f"  - {t['target']} ≤ {t['limit']:g} {t['unit']}: MISSED, {t['value']:g} "
                f"{t['unit']} = {t['over_by']} times the target"
            )
    return "\n".join(lines)
