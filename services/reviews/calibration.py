"""Calibration view and CSV export of a cycle's results (pure)."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from typing import Any

from services.reviews.domain import Review
from shared.directory import Person

NO_TEAM = "(no manager)"
NO_DEPARTMENT = "(no department)"


def distribution(reviews: list[Review], people: dict[str, Person]) -> dict[str, Any]:
    """Final ratings counted overall, per department and per team (the manager's reports)."""
    overall: Counter[str] = Counter()
    by_department: dict[str, Counter[str]] = defaultdict(Counter)
    by_team: dict[str, Counter[str]] = defaultdict(Counter)
    rows = []
    for review in reviews:
        person = people.get(review.person_id)
        rating = review.final_rating
        if rating is not None:
            overall[str(rating)] += 1
            by_department[review.department or NO_DEPARTMENT][str(rating)] += 1
            by_team[review.manager_id or NO_TEAM][str(rating)] += 1
        rows.append(
            {
                "review_id": review.id,
                "person_id": review.person_id,
                "name": person.name if person else None,
                "department": review.department,
                "manager_id": review.manager_id,
                "manager_rating": (
                    review.manager_review.overall_rating if review.manager_review else None
                ),
                "final_rating": rating,
                "adjustments": len(review.adjustments),
            }
        )
    return {
        "overall": dict(overall),
        "by_department": {k: dict(v) for k, v in by_department.items()},
        "by_team": {k: dict(v) for k, v in by_team.items()},
        "reviews": rows,
    }


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(reviews: list[Review], people: dict[str, Person], skills: tuple[str, ...]) -> str:
    """One row per review: who, each step, the ratings and the last calibration reason."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "review_id",
            "person_id",
            "name",
            "department",
            "manager_id",
            "self_review_submitted",
            "peers_approved",
            "manager_review_submitted",
            "manager_rating",
            "final_rating",
            "calibration_reason",
            "released",
            "acknowledged",
            *[f"manager_{s}" for s in skills],
            *[f"self_{s}" for s in skills],
        ]
    )
    for review in reviews:
        person = people.get(review.person_id)
        boss, own = review.manager_review, review.self_review
        writer.writerow(
            _cell(v)
            for v in [
                review.id,
                review.person_id,
                person.name if person else "",
                review.department,
                review.manager_id,
                own is not None,
                review.approved_peers is not None,
                boss is not None,
                boss.overall_rating if boss else None,
                review.final_rating,
                review.adjustments[-1].reason if review.adjustments else None,
                review.released,
                review.acknowledged_at is not None,
                *[boss.ratings.get(s) if boss else None for s in skills],
                *[own.ratings.get(s) if own else None for s in skills],
            ]
        )
    return out.getvalue()
