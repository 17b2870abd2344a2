"""What an erasure changes on other people's goals (pure functions)."""

from __future__ import annotations

from services.goals.privacy import entry_changes, scrub_goal


def test_a_check_in_by_the_person_loses_its_author_and_note() -> None:
    entry = {"kind": "check_in", "by": "p1", "note": "mine", "values": {"kr": 2}}
    assert entry_changes(entry, "p1") == {"by": "erased", "note": None}
    assert entry_changes({**entry, "by": "p2"}, "p1") is None
    assert entry_changes({"kind": "progress", "cause": {"by": "p1"}}, "p1") == {
        "cause": {"by": "erased"}
    }


def test_someone_elses_goal_keeps_everything_but_the_person() -> None:
    goal = {
        "created_by": "p1",
        "feedback_reviewer_ids": ["p1", "p2"],
        "pending_timeline": [{"by": "p1", "note": "x"}, {"by": "p2", "note": "y"}],
    }
    assert scrub_goal(goal, "p1") == {
        "created_by": "erased",
        "feedback_reviewer_ids": ["p2"],
        "pending_timeline": [{"by": "erased", "note": None}, {"by": "p2", "note": "y"}],
    }
    assert scrub_goal({"created_by": "p2"}, "p1") is None
