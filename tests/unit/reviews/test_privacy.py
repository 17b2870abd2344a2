"""What an erasure changes on other people's reviews (pure functions)."""

from __future__ import annotations

from services.reviews.privacy import scrub_review


def test_a_review_loses_its_manager_peer_and_calibrator() -> None:
    review = {
        "manager_id": "p1",
        "nominated_peers": ["p1", "p3"],
        "approved_peers": ["p1"],
        "manager_review": {"submitted_by": "p1", "rating": 3},
        "adjustments": [{"by": "p1", "rating": 4}],
    }
    assert scrub_review(review, "p1") == {
        "manager_id": None,
        "nominated_peers": ["p3"],
        "approved_peers": [],
        "manager_review": {"submitted_by": "erased", "rating": 3},
        "adjustments": [{"by": "erased", "rating": 4}],
    }
