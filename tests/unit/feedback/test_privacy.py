"""What an erasure changes on feedback the person gave (pure functions)."""

from __future__ import annotations

from services.feedback.privacy import scrub_request


def test_feedback_the_person_gave_keeps_its_ratings_only() -> None:
    request = {
        "requester_id": "p2",
        "reviewers": [{"person_id": "p1", "status": "answered"}],
        "reviewer_ids": ["p1"],
        "open_reviewer_ids": [],
        "responses": [
            {"ratings": {"ux": 4}, "comments": "c", "answers": ["a"], "reviewer_id": "p1"}
        ],
    }
    fields = scrub_request(request, "p1")
    assert fields is not None
    assert fields["reviewers"] == [{"person_id": "erased", "status": "answered"}]
    assert fields["responses"] == [
        {
            "ratings": {"ux": 4},
            "comments": None,
            "answers": [],
            "reviewer_id": None,
            "relationship": None,
        }
    ]
