"""Reminders of an open feedback request: 3 days in, a day before expiry, once, to open ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.feedback.domain import FeedbackRequest, Reviewer, answer_key

NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)  # due 2026-05-10: expires 2026-05-11T00:00Z
SECRET = b"unit-test-secret"


def request(due: date = date(2026, 5, 10), anonymous: bool = False) -> FeedbackRequest:
    req = FeedbackRequest.create(
        id="req-1",
        tenant="acme",
        subject_id="pm",
        requester_id="mgr",
        reviewers=[Reviewer(f"r{i}", "peer") for i in range(3)],
        skills=["communication"],
        questions=[],
        due_date=due,
        anonymous=anonymous,
        min_responses=2,
        now=NOW,
        max_reviewers=50,
    )
    req.events.clear()
    return req


def reminded(req: FeedbackRequest) -> list[tuple[str, str]]:
    return [(e.data["reminder"], e.data["reviewer_id"]) for e in req.events]


def test_the_open_reviewers_are_reminded_three_days_in_and_a_day_before_expiry() -> None:
    req = request()
    assert req.next_reminder_at == NOW + timedelta(days=3)
    assert req.remind(NOW + timedelta(days=2, hours=23)) == 0
    assert req.remind(NOW + timedelta(days=3)) == 3
    assert reminded(req) == [("still_open", "r0"), ("still_open", "r1"), ("still_open", "r2")]
    assert req.next_reminder_at == datetime(2026, 5, 10, tzinfo=UTC)  # a day before expiry
    req.events.clear()
    assert req.remind(NOW + timedelta(days=4)) == 0  # once
    assert req.remind(datetime(2026, 5, 10, 0, 1, tzinfo=UTC)) == 3
    assert {r for r, _ in reminded(req)} == {"expires_soon"}
    assert req.next_reminder_at is None
    req.events.clear()
    assert req.remind(datetime(2026, 5, 10, 23, tzinfo=UTC)) == 0


def test_reviewers_who_answered_or_declined_are_not_reminded() -> None:
    req = request()
    req.submit(
        reviewer_id="r0",
        key=answer_key(SECRET, req.id, "r0"),
        response_id="x",
        ratings={"communication": 4},
        comments=None,
        answers=[],
        now=NOW,
    )
    req.decline(reviewer_id="r1", key=answer_key(SECRET, req.id, "r1"), now=NOW)
    req.events.clear()
    assert req.remind(NOW + timedelta(days=3)) == 1
    assert reminded(req) == [("still_open", "r2")]


def test_answered_completed_and_expired_requests_get_no_reminder() -> None:
    req = request()
    for who in ("r0", "r1", "r2"):
        req.decline(reviewer_id=who, key=answer_key(SECRET, req.id, who), now=NOW)
    assert req.status == "completed"
    req.events.clear()
    assert req.next_reminder_at is None
    assert req.remind(NOW + timedelta(days=3)) == 0

    late = request()
    assert late.expire(datetime(2026, 5, 11, tzinfo=UTC))
    late.events.clear()
    assert late.next_reminder_at is None
    assert late.remind(datetime(2026, 5, 11, tzinfo=UTC)) == 0


def test_reminder_ids_are_deterministic_per_request_reminder_and_reviewer() -> None:
    first, second = request(), request()
    first.remind(NOW + timedelta(days=3))
    second.remind(NOW + timedelta(days=3, hours=5))
    assert [e.id for e in first.events] == [e.id for e in second.events]
    assert len({e.id for e in first.events}) == 3


def test_short_requests_skip_what_would_come_too_early_or_too_late() -> None:
    # due in 3 days: "still open" would come no earlier than "expires soon"
    assert [n for n, _ in request(date(2026, 5, 7)).reminder_schedule()] == ["expires_soon"]
    # due tomorrow: a day before expiry is within a day of asking
    assert request(date(2026, 5, 5)).reminder_schedule() == []


def test_a_job_away_past_both_sends_only_the_later_reminder() -> None:
    req = request()
    assert req.remind(datetime(2026, 5, 10, 6, tzinfo=UTC)) == 3
    assert {r for r, _ in reminded(req)} == {"expires_soon"}
    assert req.next_reminder_at is None
