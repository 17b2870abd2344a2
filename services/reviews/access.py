"""Who may read and write a review, and what each reader sees (pure rules).

- the person: their own review; the manager review and final rating only once released;
  never the calibration record;
- their managers (anyone up the chain, from the org-chart projection): everything, and they
  approve the peers and write the manager review;
- HR admins: everything, and they calibrate.
Anyone else gets 404, as does another tenant: a review's existence is not theirs to learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.reviews.domain import Review


@dataclass(frozen=True)
class Relationship:
    """How a caller relates to the person a review (or career record) is about."""

    person: bool = False
    manager: bool = False
    hr: bool = False

    @property
    def reads(self) -> bool:
        return self.person or self.manager or self.hr

    @property
    def sees_manager_side(self) -> bool:
        return self.manager or self.hr


def can_set_level(rel: Relationship) -> bool:
    """A person's current level: HR or their manager."""
    return rel.manager or rel.hr


def review_view(review: Review, rel: Relationship) -> dict[str, Any]:
    """The review as this reader may see it."""
    manager_side = rel.sees_manager_side or review.released
    boss = review.manager_review
    return {
        "id": review.id,
        "cycle_id": review.cycle_id,
        "cycle_name": review.cycle_name,
        "person_id": review.person_id,
        "manager_id": review.manager_id,
        "department": review.department,
        "period_start": review.period_start,
        "period_end": review.period_end,
        "deadlines": review.deadlines,
        "steps": {
            "self_review": review.step_done("self_review"),
            "peer_feedback": review.step_done("peer_feedback"),
            "manager_review": review.step_done("manager_review"),
            "released": review.released,
            "acknowledged": review.acknowledged_at is not None,
        },
        "self_review": vars(review.self_review) if review.self_review else None,
        "nominated_peers": review.nominated_peers,
        "approved_peers": review.approved_peers,
        "manager_review": (
            {k: v for k, v in vars(boss).items() if k != "submitted_by"}
            if boss and manager_side
            else None
        ),
        "final_rating": review.final_rating if manager_side else None,
        "calibration": ([vars(a) for a in review.adjustments] if rel.sees_manager_side else None),
        "released_at": review.released_at,
        "acknowledged_at": review.acknowledged_at,
    }
