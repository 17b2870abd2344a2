"""The rules of feedback requests, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.feedback.domain import (
    AlreadyAnswered,
    AlreadyDeclined,
    FeedbackRequest,
    NotAReviewer,
    RequestExpired,
    Reviewer,
    answer_key,
)
from services.feedback.service import counted_as
from shared.errors import InvalidInput

NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)
SECRET = b"unit-test-secret"


def request(anonymous: bool = True, size: int = 4, **extra: object) -> FeedbackRequest:
    values: dict[str, object] = {
        "id": "req-1",
        "tenant": "acme",
        "subject_id": "pm",
        "requester_id": "mgr",
        "reviewers": [Reviewer(f"r{i}", "peer") for i in range(size)],
        "skills": ["communication"],
        "questions": [],
        "due_date": date(2026, 5, 10),
        "anonymous": anonymous,
        "min_responses": 3,
        "now": NOW,
        "max_reviewers": 50,
        **extra,
    }
    return FeedbackRequest.create(**values)  # type: ignore[arg-type]


def submit(req: FeedbackRequest, who: str, rating: int = 4, now: datetime = NOW) -> None:
    req.submit(
        reviewer_id=who,
        key=answer_key(SECRET, req.id, who),
        response_id=f"resp-{who}",
        ratings={"communication": rating},
        comments=None,
        answers=[],
        now=now,
    )


def test_creating_a_request_tells_each_reviewer_once() -> None:
    req = request()
    assert [e.data["reviewer_id"] for e in req.events] == ["r0", "r1", "r2", "r3"]
    assert len({e.id for e in req.events}) == 4


def test_anonymous_answers_are_released_when_min_responses_answered() -> None:
    req = request()
    req.events.clear()
    submit(req, "r0")
    submit(req, "r1")
    assert not req.released
    submit(req, "r2")
    assert req.released
    types = [e.type.split(".")[2] for e in req.events]
    assert types == ["submitted", "submitted", "submitted", "released"]
    assert all(e.data.get("reviewer_id") is None for e in req.events)
    assert all(r.reviewer_id is None and r.relationship is None for r in req.responses)
    assert "r0" not in repr(req.answer_keys)


def test_readers_see_anonymous_answers_only_once_released_and_dated_from_the_release() -> None:
    req = request()
    submit(req, "r0", now=NOW - timedelta(days=2))
    submit(req, "r1", now=NOW - timedelta(days=1))
    assert req.readable_responses() == []
    submit(req, "r2")
    readable = req.readable_responses()
    assert len(readable) == 3
    assert {r.submitted_on for r in readable} == {NOW.date()}
    assert all(r.reviewer_id is None and r.relationship is None for r in readable)


def test_named_answers_carry_the_reviewer() -> None:
    req = request(anonymous=False)
    submit(req, "r0")
    assert req.released
    assert req.responses[0].reviewer_id == "r0"
    assert req.readable_responses()[0].reviewer_id == "r0"
    assert req.events[-1].data["reviewer_id"] == "r0"


def test_a_second_answer_or_an_answer_after_declining_is_refused() -> None:
    req = request()
    submit(req, "r0")
    with pytest.raises(AlreadyAnswered):
        submit(req, "r0")
    req.decline(reviewer_id="r1", key=answer_key(SECRET, req.id, "r1"), now=NOW)
    with pytest.raises(AlreadyDeclined):
        submit(req, "r1")
    assert req.answered_count == 1


def test_the_keyed_hash_alone_stops_a_double_answer() -> None:
    req = request()
    req.answer_keys = [answer_key(SECRET, req.id, "r0")]
    with pytest.raises(AlreadyAnswered):
        submit(req, "r0")


def test_someone_not_asked_cannot_answer() -> None:
    with pytest.raises(NotAReviewer):
        submit(request(), "stranger")


def test_answers_are_taken_until_the_end_of_the_due_date() -> None:
    req = request()
    submit(req, "r0", now=datetime(2026, 5, 10, 23, 59, tzinfo=UTC))
    with pytest.raises(RequestExpired):
        submit(req, "r1", now=datetime(2026, 5, 11, tzinfo=UTC))


def test_expiry_of_an_anonymous_request_names_nobody() -> None:
    req = request()
    submit(req, "r0")
    assert not req.expire(datetime(2026, 5, 10, 12, tzinfo=UTC))
    assert req.expire(datetime(2026, 5, 11, tzinfo=UTC))
    assert req.status == "expired"
    expired = req.events[-1].data
    assert expired["open_reviewer_ids"] == []
    assert expired["open_count"] == 3
    assert not req.expire(datetime(2026, 5, 12, tzinfo=UTC))  # once


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"reviewers": []}, "at least one reviewer"),
        ({"min_responses": 5}, "exceeds the number of reviewers"),
        ({"min_responses": 1}, "at least 3"),
        ({"min_responses": 2}, "at least 3"),
        ({"skills": ["Bad Skill"]}, "lowercase"),
        ({"skills": [], "questions": []}, "at least one skill"),
        ({"due_date": NOW.date() - timedelta(days=1)}, "in the past"),
        ({"reviewers": [Reviewer("pm", "peer"), Reviewer("x", "peer")]}, "themselves"),
    ],
)
def test_invalid_requests_are_refused(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        request(**extra)


def test_ratings_must_cover_the_requested_skills_with_whole_numbers_1_to_5() -> None:
    req = request()
    for ratings in [{}, {"communication": 6}, {"communication": True}, {"ux_design": 3}]:
        with pytest.raises(InvalidInput):
            req.submit(
                reviewer_id="r0",
                key=answer_key(SECRET, req.id, "r0"),
                response_id="x",
                ratings=ratings,  # type: ignore[arg-type]
                comments=None,
                answers=[],
                now=NOW,
            )
    assert req.answered_count == 0
    assert req.reviewer("r0") is not None


def test_ratings_travel_in_events_only_once_the_subject_may_read_them() -> None:
    named = request(anonymous=False)
    named.events.clear()
    submit(named, "r0", rating=2)
    [submitted] = named.events
    assert submitted.data["ratings"] == {"communication": 2}

    anonymous = request()
    anonymous.events.clear()
    submit(anonymous, "r0", rating=2)
    submit(anonymous, "r1", rating=5)
    assert [e.data["ratings"] for e in anonymous.events] == [{}, {}]  # not yet released
    submit(anonymous, "r2", rating=3)
    submitted, released = anonymous.events[-2:]
    assert submitted.data["ratings"] == {}
    assert released.type == "northstar.feedback.released.v1"
    # every answer's ratings, in the answers' (random id) order: nobody's in particular
    assert sorted(r["communication"] for r in released.data["ratings"]) == [2, 3, 5]
    submit(anonymous, "r3", rating=4)  # after the release, readable at once
    assert anonymous.events[-1].data["ratings"] == {"communication": 4}


def test_a_request_stored_before_the_floor_with_two_needs_a_third_answer() -> None:
    """k = 2 lets each of two reviewers read the other's answer by setting their own aside: a
    request stored with min_responses 2 (and even one released at 2) shows nothing below 3."""
    req = request()
    req.min_responses = 2  # as stored before the floor
    submit(req, "r0")
    submit(req, "r1")
    assert not req.released
    assert req.readable_responses() == []
    assert [e.type.split(".")[2] for e in req.events][-2:] == ["submitted", "submitted"]

    req.released_on = NOW.date()  # released at 2 by the old rule
    assert not req.released
    assert req.readable_responses() == []

    submit(req, "r2")
    assert req.released
    assert len(req.readable_responses()) == 3


def test_a_reader_who_answered_sees_anonymous_answers_only_when_three_others_did() -> None:
    # the skip-level manager "vp" was asked too: with three answers, one of them theirs, setting
    # it aside would leave two, and each of those reviewers' answers readable by subtraction
    req = request(reviewers=[Reviewer(p, "peer") for p in ("r0", "r1", "vp", "r3")])
    for who in ("r0", "r1", "vp"):
        submit(req, who)
    assert req.released
    assert len(req.readable_responses("pm")) == 3  # the subject answered nothing of it
    assert len(req.readable_responses("hr")) == 3
    assert not req.readable_by("vp")
    assert req.readable_responses("vp") == []
    submit(req, "r3")
    assert len(req.readable_responses("vp")) == 4


def test_a_reviewer_anywhere_in_the_subjects_chain_counts_as_a_manager() -> None:
    chain = ["mgr", "director", "vp"]  # the subject's manager first
    assert counted_as("vp", "peer", chain) == "manager"
    assert counted_as("mgr", "mentor", chain) == "manager"
    assert counted_as("r0", "peer", chain) == "peer"
