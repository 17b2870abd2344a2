"""Which inbox items an erasure takes with the person (pure)."""

from __future__ import annotations

from services.notifications.privacy import about_them

NAMES = ["Ann Lee", "ann@example.com"]


def test_their_own_items_and_items_about_their_goals_or_events_go() -> None:
    assert about_them({"recipient_id": "p1"}, "p1", NAMES)
    assert about_them({"event_subject": "p1"}, "p1", NAMES)
    assert about_them({"data": {"owner_id": "p1"}}, "p1", NAMES)


def test_their_name_as_a_whole_word_in_the_text_takes_the_item() -> None:
    assert about_them({"title": "ann lee asked for your feedback"}, "p1", NAMES)
    assert about_them({"summary": "From ann@example.com."}, "p1", NAMES)
    assert not about_them({"title": "Joann Leeds' goal"}, "p1", ["Ann Lee"])
    assert not about_them({"title": "Annual review"}, "p1", ["Ann"])
    assert not about_them({"title": "Ann"}, "p1", ["An"]), "too short to tell"
