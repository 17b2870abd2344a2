"""The rules of cycles and reviews: step order, calibration record, release, reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.reviews.cycle import Cycle, Population
from services.reviews.domain import Review
from services.reviews.ladders import SKILLS
from services.reviews.records import StepOutOfOrder
from shared.errors import Conflict, InvalidInput
from shared.events.reviews import (
    ReviewCalibrated,
    ReviewPeerFeedbackRequested,
    ReviewReminderDue,
    ReviewSubmitted,
)

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
TODAY = NOW.date()
LEAD = timedelta(days=3)


def deadlines(**days: int) -> dict[str, date]:
    offsets = {
        "self_review": 10,
        "peer_feedback": 12,
        "manager_review": 20,
        "calibration": 25,
        "release": 30,
        **days,
    }
    return {step: TODAY + timedelta(days=n) for step, n in offsets.items()}


def cycle(**kw: object) -> Cycle:
    values: dict[str, object] = {
        "id": "c1",
        "tenant": "acme",
        "name": "H1",
        "period_start": TODAY - timedelta(days=180),
        "period_end": TODAY,
        "population": Population("everyone"),
        "deadlines": deadlines(),
        "created_by": "hr",
        "created_at": NOW,
        **kw,
    }
    return Cycle.create(**values)


def review() -> Review:
    r = Review.assign(
        cycle(), id="r1", person_id="ada", manager_id="max", department="Product", now=NOW
    )
    r.events.clear()
    return r


def payloads(r: Review, kind: type) -> list:
    return [e.payload for e in r.events if isinstance(e.payload, kind)]


@pytest.mark.parametrize(
    "bad",
    [
        {"name": " "},
        {"period_end": TODAY - timedelta(days=365)},
        {"deadlines": deadlines(calibration=35)},
        {"deadlines": deadlines(peer_feedback=21)},
        {"deadlines": {"self_review": TODAY}},
        {"period_start": date(1, 1, 1)},
        {"period_end": date(9999, 12, 31)},
        {"period_start": TODAY - timedelta(days=4000)},
        {"deadlines": deadlines(release=5000)},
    ],
)
def test_a_cycle_with_bad_dates_or_steps_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        cycle(**bad)


def test_a_population_names_its_department_or_group() -> None:
    with pytest.raises(InvalidInput):
        Population("department")
    with pytest.raises(InvalidInput):
        Population("everyone", "Sales")


def test_a_cycle_launches_once_and_never_empty() -> None:
    c = cycle()
    # launch has no body: an empty population is the directory's state, a 409 (not a 422)
    with pytest.raises(Conflict):
        c.launch(0, "hr", NOW)
    c.launch(3, "hr", NOW)
    assert c.status == "launched"
    assert c.events[0].key == ("review-cycle", "acme", "c1", "launched")
    with pytest.raises(Conflict):
        c.launch(3, "hr", NOW)


def test_forms_are_final_and_checked() -> None:
    r = review()
    with pytest.raises(InvalidInput):
        r.submit_self(
            ratings={"charisma": 3}, goal_comments={}, comments=None, skills=SKILLS, now=NOW
        )
    with pytest.raises(InvalidInput):
        r.submit_self(
            ratings={"ux_design": 0}, goal_comments={}, comments=None, skills=SKILLS, now=NOW
        )
    assert r.events == []
    r.submit_self(
        ratings={"ux_design": 4},
        goal_comments={"g1": "shipped"},
        comments=None,
        skills=SKILLS,
        now=NOW,
    )
    [submitted] = payloads(r, ReviewSubmitted)
    assert (submitted.form, submitted.ratings) == ("self", {"ux_design": 4})
    with pytest.raises(Conflict):
        r.submit_self(ratings={}, goal_comments={}, comments=None, skills=SKILLS, now=NOW)
    with pytest.raises(InvalidInput):
        r.submit_manager(
            ratings={}, overall_rating=6, summary="x", by="max", skills=SKILLS, scale=5, now=NOW
        )


def test_peers_are_approved_by_the_manager_and_asked_anonymously_when_enough() -> None:
    r = review()
    with pytest.raises(StepOutOfOrder):
        r.approve_peers(None, by="max", skills=SKILLS, anonymous_minimum=3)
    with pytest.raises(InvalidInput):
        r.nominate_peers(["ada"], max_peers=5)
    r.nominate_peers(["bob", "cy", "bob"], max_peers=5)
    assert r.nominated_peers == ["bob", "cy"]
    with pytest.raises(InvalidInput):
        r.approve_peers(["zed"], by="max", skills=SKILLS, anonymous_minimum=3)
    r.approve_peers(None, by="max", skills=SKILLS, anonymous_minimum=3)
    [ask] = payloads(r, ReviewPeerFeedbackRequested)
    assert ask.reviewer_ids == ["bob", "cy"]
    assert ask.anonymous is False  # two peers could tell who said what
    assert ask.due_date == r.deadlines["peer_feedback"]
    with pytest.raises(Conflict):
        r.nominate_peers(["dee"], max_peers=5)


def test_calibration_keeps_every_change_with_its_reason_and_release_shows_the_result() -> None:
    r = review()
    with pytest.raises(StepOutOfOrder):
        r.calibrate(rating=3, reason="early", by="hr", scale=5, now=NOW)
    assert not r.release(NOW)  # nothing to release without a manager review
    r.submit_manager(
        ratings={"leadership": 4},
        overall_rating=3,
        summary="Solid",
        by="max",
        skills=SKILLS,
        scale=5,
        now=NOW,
    )
    with pytest.raises(InvalidInput):
        r.calibrate(rating=4, reason=" ", by="hr", scale=5, now=NOW)
    r.calibrate(rating=4, reason="Led the launch", by="hr", scale=5, now=NOW)
    r.calibrate(rating=5, reason="Also the migration", by="hr2", scale=5, now=NOW)
    assert [(a.old_rating, a.new_rating, a.by) for a in r.adjustments] == [
        (3, 4, "hr"),
        (4, 5, "hr2"),
    ]
    assert r.final_rating == 5
    keys = [e.key for e in r.events if isinstance(e.payload, ReviewCalibrated)]
    assert len(set(keys)) == 2  # two changes, two events
    with pytest.raises(StepOutOfOrder):
        r.acknowledge(NOW)
    assert r.release(NOW)
    assert not r.release(NOW)  # once
    with pytest.raises(StepOutOfOrder):
        r.calibrate(rating=1, reason="late", by="hr", scale=5, now=NOW)
    r.acknowledge(NOW)
    with pytest.raises(Conflict):
        r.acknowledge(NOW)


def test_each_step_is_reminded_once_inside_its_window_and_never_once_done() -> None:
    r = review()
    assert r.remind(TODAY, LEAD) == 0  # day 0: every deadline is further than 3 days
    day8 = TODAY + timedelta(days=8)
    assert r.remind(day8, LEAD) == 1
    assert r.remind(day8, LEAD) == 0
    r.submit_self(ratings={}, goal_comments={}, comments=None, skills=SKILLS, now=NOW)
    day9 = TODAY + timedelta(days=9)
    assert r.remind(day9, LEAD) == 1  # peers: the person nominates
    r.nominate_peers(["bob"], max_peers=5)
    assert r.remind(day9, LEAD) == 1  # now the manager approves
    r.submit_manager(
        ratings={}, overall_rating=3, summary="ok", by="max", skills=SKILLS, scale=5, now=NOW
    )
    assert r.remind(TODAY + timedelta(days=18), LEAD) == 0  # the manager review is done
    sent = [(p.step, p.recipient_id) for p in payloads(r, ReviewReminderDue)]
    assert sent == [("self_review", "ada"), ("peer_feedback", "ada"), ("peer_feedback", "max")]
    assert r.remind(TODAY + timedelta(days=21), LEAD) == 0  # after a deadline: not reminded


def test_the_cycle_reminds_hr_of_calibration_and_release_until_done() -> None:
    c = cycle()
    c.launch(1, "hr", NOW)
    c.events.clear()
    assert c.remind(TODAY + timedelta(days=23), LEAD) == 1
    assert c.remind(TODAY + timedelta(days=23), LEAD) == 0
    c.release(NOW)
    assert c.remind(TODAY + timedelta(days=28), LEAD) == 0
    [reminder] = [e.payload for e in c.events]
    assert (reminder.step, reminder.recipient_id) == ("calibration", "hr")
