"""The pure rules: preference decisions, quiet hours, digests, retries, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from services.notifications.domain import (
    RULES,
    Preferences,
    QuietHours,
    TenantDefaults,
    decide,
    digest_due,
    done_reminders,
    local_day,
    matches,
    quiet_until,
    reminder_ref,
    retry_delay,
    time_zone,
    validate_time_zone,
)
from shared.errors import InvalidInput
from shared.events.feedback import FeedbackRequested, FeedbackSubmitted
from shared.events.goals import GoalAchieved, GoalReviewDue

PARIS = time_zone("Europe/Paris")


def test_a_person_choice_beats_the_tenant_default_and_the_built_in() -> None:
    prefs = Preferences(channels={"celebration": {"email": "off"}})
    defaults = TenantDefaults(channels={"celebration": {"email": "digest"}})
    decision = decide("celebration", "email", prefs, defaults, has_email=True)
    assert (decision.setting, decision.source) == ("off", "person")
    assert decide("celebration", "email", Preferences(), defaults, has_email=True).setting == (
        "digest"
    )
    built_in = decide("kpi_alert", "email", Preferences(), TenantDefaults(), has_email=True)
    assert (built_in.setting, built_in.source) == ("digest", "built_in")


def test_a_locked_tenant_default_beats_the_person() -> None:
    prefs = Preferences(channels={"celebration": {"email": "on"}})
    defaults = TenantDefaults(
        channels={"celebration": {"email": "off"}}, locked=frozenset({"celebration"})
    )
    decision = decide("celebration", "email", prefs, defaults, has_email=True)
    assert (decision.setting, decision.source) == ("off", "tenant_locked")


def test_slack_is_off_without_a_url_and_email_without_an_address() -> None:
    assert (
        decide("celebration", "slack", Preferences(), TenantDefaults(), has_email=True).setting
        == "off"
    )
    with_url = Preferences(slack_webhook_url="https://hooks.slack.test/x")
    assert (
        decide("celebration", "slack", with_url, TenantDefaults(), has_email=True).setting == "on"
    )
    no_mail = decide("celebration", "email", Preferences(), TenantDefaults(), has_email=False)
    assert no_mail.setting == "off"
    assert no_mail.reason == "the person has no email address"


def test_quiet_hours_spanning_midnight_end_the_next_local_morning() -> None:
    quiet = QuietHours(time(22, 0), time(7, 0))
    late = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)  # 23:30 in Paris
    assert quiet_until(late, PARIS, quiet) == datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    early = datetime(2026, 3, 11, 5, 0, tzinfo=UTC)  # 06:00 in Paris
    assert quiet_until(early, PARIS, quiet) == datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    day = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
    assert quiet_until(day, PARIS, quiet) is None
    assert quiet_until(day, PARIS, None) is None


def test_quiet_hours_within_one_day() -> None:
    quiet = QuietHours(time(12, 0), time(14, 0))
    assert quiet.contains(time(13, 0))
    assert not quiet.contains(time(14, 0))
    assert not QuietHours(time(9, 0), time(9, 0)).contains(time(9, 0))


def test_the_digest_is_due_once_its_local_time_has_passed() -> None:
    before = datetime(2026, 3, 10, 7, 59, tzinfo=UTC)  # 08:59 in Paris
    after = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert digest_due(before, PARIS, time(9, 0)) is None
    assert digest_due(after, PARIS, time(9, 0)) == "2026-03-10"


def test_the_local_day_starts_at_local_midnight() -> None:
    day, start = local_day(datetime(2026, 3, 10, 23, 30, tzinfo=UTC), PARIS)
    assert day == "2026-03-11"
    assert start == datetime(2026, 3, 10, 23, 0, tzinfo=UTC)


def test_retries_follow_the_schedule_honour_retry_after_and_end() -> None:
    schedule = [0.0, 5.0, 300.0]
    assert retry_delay(schedule, 1, None) == 5.0
    assert retry_delay(schedule, 1, 60.0) == 60.0
    assert retry_delay(schedule, 2, 1.0) == 300.0
    assert retry_delay(schedule, 3, None) is None


def test_every_rule_names_a_known_event() -> None:
    from shared.events.envelope import CATALOGUE

    assert {rule.name for rule in RULES.values()} <= set(CATALOGUE)
    assert RULES[GoalAchieved].audience == ("owner", "manager", "mentors")


GOAL = {"goal_id": "g1", "tenant": "t", "owner_id": "o", "title": "Ship", "horizon": "short_term"}


def test_a_submission_makes_the_reviewers_reminder_pointless_unless_anonymous() -> None:
    asked = FeedbackRequested(
        request_id="r1",
        tenant="t",
        subject_id="s",
        requester_id="q",
        reviewer_id="rev",
        relationship="peer",
    )
    ref = reminder_ref(asked)

    def submitted(reviewer: str | None) -> FeedbackSubmitted:
        return FeedbackSubmitted(
            request_id="r1",
            tenant="t",
            subject_id="s",
            requester_id="q",
            anonymous=reviewer is None,
            reviewer_id=reviewer,
        )

    assert done_reminders(submitted("rev")) == [(ref, "the reviewer already answered")]
    assert done_reminders(submitted(None)) == []
    goal_ref = reminder_ref(
        GoalReviewDue(**GOAL, status="active", reason="cadence", due_on="2026-03-10")
    )
    achieved = done_reminders(GoalAchieved(**GOAL, status="achieved"))
    assert (goal_ref, "the goal is achieved") in achieved


def test_subscription_patterns_match_exact_types_and_prefixes() -> None:
    assert matches(["northstar.goal.*"], "northstar.goal.achieved.v1")
    assert matches(["northstar.goal.achieved.v1"], "northstar.goal.achieved.v1")
    assert not matches(["northstar.goal.achieved.v1"], "northstar.goal.abandoned.v1")


def test_unknown_time_zones_are_refused() -> None:
    assert validate_time_zone("Asia/Tokyo") == "Asia/Tokyo"
    with pytest.raises(InvalidInput):
        validate_time_zone("Mars/Olympus")
    assert str(time_zone("nonsense")) == "UTC"
