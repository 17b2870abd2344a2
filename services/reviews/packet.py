"""The review packet: what a person did in a period, assembled from the evidence of events.

Pure: no I/O. Goals of the period with their progress, milestones and the causes of their
biggest moves; achievements; the feedback summary by skill with its trend against the time
before the period; praise; how many check-ins moved a goal.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

BIGGEST_MOVES = 3
TREND_MARGIN = 0.25  # an average moving less than this is "flat"


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period as instants: from the start of its first day to the end of its last (UTC)."""
    return (
        datetime.combine(start, time(0), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC),
    )


def _average(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _trend(now: float | None, before: float | None) -> str:
    if now is None:
        return "none"
    if before is None:
        return "new"
    if now - before > TREND_MARGIN:
        return "up"
    if before - now > TREND_MARGIN:
        return "down"
    return "flat"


def feedback_summary(facts: list[dict[str, Any]], start: datetime) -> list[dict[str, Any]]:
    during: dict[str, list[int]] = defaultdict(list)
    before: dict[str, list[int]] = defaultdict(list)
    for fact in facts:
        if fact["kind"] != "ratings":
            continue
        into = during if fact["at"] >= start else before
        for skill, value in fact["ratings"].items():
            into[skill].append(int(value))
    summary = []
    for skill in sorted(set(during) | set(before)):
        now, then = _average(during[skill]), _average(before[skill])
        summary.append(
            {
                "skill": skill,
                "average": now,
                "count": len(during[skill]),
                "previous_average": then,
                "trend": _trend(now, then),
            }
        )
    return summary


def assemble(
    goals: list[dict[str, Any]], facts: list[dict[str, Any]], start: date, end: date
) -> dict[str, Any]:
    """The packet of one person; ``facts`` are theirs up to the end of the period."""
    begin, finish = bounds(start, end)
    during = [f for f in facts if begin <= f["at"] < finish]
    by_goal: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in during:
        if fact.get("goal_id"):
            by_goal[fact["goal_id"]].append(fact)
    packet_goals = []
    for goal in goals:
        own = by_goal.get(goal["goal_id"], [])
        first_seen = goal.get("created_at") or goal.get("first_seen_at")
        ended_before = (
            goal["status"] in ("achieved", "abandoned")
            and not own
            and (goal.get("updated_at") or finish) < begin
        )
        if (first_seen and first_seen >= finish) or ended_before:
            continue  # not a goal of this period
        moves = [f for f in own if f["kind"] == "progress"]
        biggest = sorted(moves, key=lambda f: abs(f["new"] - f["old"]), reverse=True)
        achieved_at = goal.get("achieved_at")
        packet_goals.append(
            {
                "goal_id": goal["goal_id"],
                "title": goal["title"],
                "status": goal["status"],
                "horizon": goal.get("horizon"),
                "skills": goal.get("skills", []),
                "progress": goal.get("progress", 0.0),
                "progress_in_period": round(sum(f["new"] - f["old"] for f in moves), 4),
                "achieved_in_period": bool(achieved_at and begin <= achieved_at < finish),
                "milestones": [
                    {"milestone": f["milestone"], "at": f["at"]}
                    for f in own
                    if f["kind"] == "milestone"
                ],
                "biggest_moves": [
                    {
                        "at": f["at"],
                        "change": round(f["new"] - f["old"], 4),
                        "cause": f["cause"],
                        "metric": f.get("metric"),
                    }
                    for f in biggest[:BIGGEST_MOVES]
                ],
                "check_ins": sum(1 for f in moves if f["cause"] == "check_in"),
            }
        )
    praise = [f for f in during if f["kind"] == "praise"]
    return {
        "period_start": start,
        "period_end": end,
        "goals": packet_goals,
        "achievements": [g for g in packet_goals if g["achieved_in_period"]],
        "feedback": feedback_summary([f for f in facts if f["at"] < finish], begin),
        "praise": [
            {
                # private praise is the recipient's own: counted, never attributed here
                "from_id": f["from_id"] if f["visibility"] != "private" else None,
                "skills": f["skills"],
                "at": f["at"],
            }
            for f in praise
        ],
        "check_in_count": sum(g["check_ins"] for g in packet_goals),
    }
