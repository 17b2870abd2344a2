"""Who reads what, and the per-skill summary."""

from __future__ import annotations

from datetime import date

import pytest

from services.feedback.access import (
    Access,
    Rated,
    Viewer,
    access_of,
    praise_visible,
    previous_period,
    summarize,
)
from services.feedback.praise import Visibility
from shared.errors import InvalidInput


def access(who: str, hr: bool = False, shares: bool = False) -> Access:
    return access_of(
        Viewer(who, hr),
        "pm",
        management_chain=["lead", "vp"],
        mentors=["mentor"],
        shares_with_mentors=shares,
    )


def test_subject_managers_and_hr_read_everything_mentors_only_when_shared() -> None:
    assert access("pm") is Access.FULL
    assert access("vp") is Access.FULL
    assert access("anyone", hr=True) is Access.FULL
    assert access("mentor") is Access.OTHER
    assert access("mentor", shares=True) is Access.MENTOR
    assert access("peer") is Access.OTHER


def test_praise_visibility() -> None:
    def visible(who: str, visibility: Visibility, acc: Access) -> bool:
        viewer = Viewer(who, False)
        return praise_visible(acc, viewer, from_id="giver", to_id="pm", visibility=visibility)

    assert visible("giver", "private", Access.OTHER)
    assert not visible("vp", "private", Access.FULL)
    assert visible("vp", "manager", Access.FULL)
    assert not visible("mentor", "manager", Access.MENTOR)
    assert visible("peer", "public", Access.OTHER)


def test_previous_period_has_the_same_length() -> None:
    assert previous_period(date(2026, 3, 1), date(2026, 3, 31)) == (
        date(2026, 1, 29),
        date(2026, 2, 28),
    )


def test_summary_means_counts_and_trends() -> None:
    entries = [
        Rated(date(2026, 2, 10), {"communication": 2, "ux_design": 5}),
        Rated(date(2026, 2, 11), {"communication": 4}),
        Rated(date(2026, 3, 2), {"communication": 5, "leadership": 3}),
        Rated(date(2026, 3, 31), {"communication": 4, "leadership": 4}),
        Rated(date(2026, 4, 1), {"communication": 1}),  # after the period
    ]
    summary = {s.skill: s for s in summarize(entries, date(2026, 3, 1), date(2026, 3, 31))}
    assert summary["communication"].mean == 4.5
    assert summary["communication"].count == 2
    assert summary["communication"].previous_mean == 3.0
    assert summary["communication"].trend == 1.5
    assert summary["communication"].direction == "up"
    assert summary["leadership"].direction == "new"
    assert summary["ux_design"].mean is None
    assert summary["ux_design"].direction == "none"


def test_summary_refuses_a_reversed_period() -> None:
    with pytest.raises(InvalidInput):
        summarize([], date(2026, 3, 2), date(2026, 3, 1))
