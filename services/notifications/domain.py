"""The rules of notifying people: which event concerns whom, through which channel, and when.

Pure: no I/O. The service feeds it typed events, preferences and the time, and stores what it
decides. The notifications and deliveries it creates are in ``notification.py`` and
``delivery.py``; their titles in ``messages.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import InvalidInput
from shared.events.envelope import EventPayload
from shared.events.feedback import (
    FeedbackDeclined,
    FeedbackReleased,
    FeedbackReminderDue,
    FeedbackRequested,
    FeedbackRequestExpired,
    FeedbackSubmitted,
)
from shared.events.goals import (
    GoalAbandoned,
    GoalAchieved,
    GoalAtRisk,
    GoalCheckedIn,
    GoalMilestoneReached,
    GoalProgressUpdated,
    GoalReviewDue,
    GoalUpdateReminderDue,
)
from shared.events.kpi import KpiStale, KpiThresholdCrossed
from shared.events.people import MentorshipRequested, PersonUpserted
from shared.events.reviews import (
    ReviewAcknowledged,
    ReviewAssigned,
    ReviewPeerFeedbackRequested,
    ReviewPeersNominated,
    ReviewReleased,
    ReviewReminderDue,
    ReviewSubmitted,
)

Category = Literal[
    "celebration",
    "review_due",
    "at_risk",
    "feedback_requested",
    "feedback_received",
    "kpi_alert",
    "welcome",
    "nudge",
    "mentorship",
]
CATEGORIES: tuple[Category, ...] = (
    "celebration",
    "review_due",
    "at_risk",
    "feedback_requested",
    "feedback_received",
    "kpi_alert",
    "welcome",
    "nudge",
    "mentorship",
)
PersonChannel = Literal["inbox", "email", "slack"]
PERSON_CHANNELS: tuple[PersonChannel, ...] = ("inbox", "email", "slack")
Setting = Literal["on", "off", "digest"]
Source = Literal["person", "tenant_default", "tenant_locked", "built_in"]

Audience = Literal[
    "owner", "manager", "mentors", "reviewer", "requester", "metric_owners", "person"
]


@dataclass(frozen=True)
class Rule:
    """Who hears about one kind of event, under which category, and how "why" explains it."""

    event: type[EventPayload]
    category: Category
    audience: tuple[Audience, ...]
    description: str

    @property
    def name(self) -> str:
        return self.event.event_type


RULES: dict[type[EventPayload], Rule] = {
    rule.event: rule
    for rule in (
        Rule(
            GoalMilestoneReached,
            "celebration",
            ("owner", "manager", "mentors"),
            "a goal milestone is celebrated with its owner, their manager and mentors",
        ),
        Rule(
            GoalAchieved,
            "celebration",
            ("owner", "manager", "mentors"),
            "an achieved goal is celebrated with its owner, their manager and mentors",
        ),
        Rule(
            GoalReviewDue,
            "review_due",
            ("owner", "manager"),
            "a goal review that is due goes to the owner and their manager",
        ),
        Rule(
            GoalAtRisk,
            "at_risk",
            ("owner", "manager"),
            "a goal at risk is flagged to the owner and their manager",
        ),
        Rule(
            FeedbackRequested,
            "feedback_requested",
            ("reviewer",),
            "a feedback request goes to the reviewer asked",
        ),
        Rule(
            FeedbackSubmitted,
            "feedback_received",
            ("requester",),
            "submitted feedback is announced to the person who asked for it",
        ),
        Rule(
            FeedbackReleased,
            "feedback_received",
            ("requester",),
            "released anonymous feedback is announced to the person who asked for it",
        ),
        Rule(
            KpiThresholdCrossed,
            "kpi_alert",
            ("metric_owners",),
            "a KPI threshold crossing goes to the people whose active goals are bound to it",
        ),
        Rule(
            KpiStale,
            "kpi_alert",
            ("metric_owners",),
            "a stale KPI goes to the people whose active goals are bound to it",
        ),
        Rule(PersonUpserted, "welcome", ("person",), "a newly created person is welcomed"),
        Rule(
            MentorshipRequested,
            "mentorship",
            ("person",),
            "a mentorship request goes to the mentor asked, who accepts or declines it",
        ),
        # review events name whose turn it is: the handler passes that person
        Rule(ReviewAssigned, "review_due", ("person",), "a new review asks for a self review"),
        Rule(
            ReviewPeersNominated,
            "review_due",
            ("person",),
            "nominated peers go to the manager to approve",
        ),
        Rule(
            ReviewSubmitted,
            "review_due",
            ("person",),
            "a submitted self review asks the manager for theirs",
        ),
        Rule(ReviewReleased, "review_due", ("person",), "a released review asks to be read"),
        Rule(
            ReviewAcknowledged,
            "review_due",
            ("person",),
            "an acknowledged review is announced to the manager",
        ),
        Rule(
            ReviewReminderDue,
            "review_due",
            ("person",),
            "a review step due soon goes to the person whose step it is",
        ),
        Rule(
            GoalUpdateReminderDue,
            "nudge",
            ("owner",),
            "a goal with no check-in or KPI movement for a while reminds its owner weekly",
        ),
        Rule(
            FeedbackReminderDue,
            "nudge",
            ("reviewer",),
            "an open feedback request reminds the reviewer who has not answered",
        ),
    )
}


def category_of(event_type: str) -> str:
    """The category a webhook delivery of this event is filed under."""
    for rule in RULES.values():
        if rule.name == event_type:
            return rule.category
    return "event"


@dataclass(frozen=True)
class Parties:
    """The people (or metric) an event names, read from its typed payload by its handler."""

    owner_id: str | None = None
    reviewer_id: str | None = None
    requester_id: str | None = None
    person_id: str | None = None
    metric: str | None = None


def reminder_ref(payload: EventPayload) -> str | None:
    """What a notification reminds of, so it can be dropped once that is done."""
    match payload:
        case FeedbackRequested() | FeedbackReminderDue():
            return f"feedback:{payload.request_id}:{payload.reviewer_id}"
        case GoalReviewDue() | GoalAtRisk():
            return f"goal:{payload.goal_id}"
        case ReviewReminderDue():
            return f"review:{payload.review_id or payload.cycle_id}:{payload.step}"
        case GoalUpdateReminderDue():
            return f"goal-update:{payload.goal_id}"
    return None


def settling_refs(ref: str) -> list[str]:
    """The refs whose settlement makes a reminder about ``ref`` moot: itself, and for one
    reviewer's reminder its whole request (an anonymous request's expiry names nobody)."""
    kind, _, rest = ref.partition(":")
    if kind == "feedback" and ":" in rest:
        return [ref, f"feedback:{rest.split(':', 1)[0]}"]
    return [ref]


# A goal's update nudge is made only for a goal idle for the tenant's N days (N >= 1, goals'
# nudges.py; activity and the nudge are saved on one versioned goal, so in order), hence never
# between two movements of the goal less than a day apart. Settling its ref again that soon
# (every KPI point that moves the goal settles it) changes no "is it moot" answer: a replica
# that settled it itself less than this long before may skip the write.
RESETTLE_AFTER = timedelta(minutes=1)


def resettle_after(ref: str) -> timedelta | None:
    """How soon settling ``ref`` again changes nothing; None: always settle it."""
    return RESETTLE_AFTER if ref.startswith("goal-update:") else None


def done_reminders(payload: EventPayload) -> list[tuple[str, str]]:
    """The reminders an event makes pointless, with why."""
    match payload:
        case FeedbackSubmitted() | FeedbackDeclined():
            if payload.reviewer_id:  # anonymous requests never name the reviewer
                ref = f"feedback:{payload.request_id}:{payload.reviewer_id}"
                return [(ref, "the reviewer already answered")]
        case FeedbackRequestExpired():
            return [
                (f"feedback:{payload.request_id}:{reviewer}", "the feedback request expired")
                for reviewer in payload.open_reviewer_ids
            ] + [(f"feedback:{payload.request_id}", "the feedback request expired")]
        case GoalAchieved() | GoalAbandoned():
            reason = f"the goal is {payload.status}"
            return [(f"goal:{payload.goal_id}", reason), (f"goal-update:{payload.goal_id}", reason)]
        case ReviewSubmitted():
            step = "self_review" if payload.form == "self" else "manager_review"
            return [(f"review:{payload.review_id}:{step}", f"the {payload.form} review is in")]
        case ReviewPeersNominated():
            return [(f"review:{payload.review_id}:peer_feedback", "the peers are nominated")]
        case ReviewPeerFeedbackRequested():
            return [(f"review:{payload.review_id}:peer_feedback", "the peers are approved")]
        case GoalCheckedIn():
            return [(f"goal-update:{payload.goal_id}", "the goal was checked in since")]
        case GoalProgressUpdated():
            if payload.cause.kind == "kpi":
                return [(f"goal-update:{payload.goal_id}", "a KPI moved the goal since")]
    return []


# Built-in defaults: the inbox gets everything, email what needs an answer or deserves a cheer,
# KPI chatter is gathered in the digest; Slack is on but only reaches people who set a URL.
BUILT_IN: dict[Category, dict[PersonChannel, Setting]] = {
    "celebration": {"inbox": "on", "email": "on", "slack": "on"},
    "review_due": {"inbox": "on", "email": "on", "slack": "on"},
    "at_risk": {"inbox": "on", "email": "on", "slack": "on"},
    "feedback_requested": {"inbox": "on", "email": "on", "slack": "on"},
    "feedback_received": {"inbox": "on", "email": "on", "slack": "on"},
    "kpi_alert": {"inbox": "on", "email": "digest", "slack": "off"},
    "welcome": {"inbox": "on", "email": "on", "slack": "off"},
    "nudge": {"inbox": "on", "email": "on", "slack": "off"},
    # someone waits for the mentor's answer: as a feedback request, minus Slack (rare, personal)
    "mentorship": {"inbox": "on", "email": "on", "slack": "off"},
}
DEFAULT_DIGEST_TIME = time(9, 0)


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # spans midnight


@dataclass(frozen=True)
class Preferences:
    """One person's choices; ``channels`` holds only what they set explicitly."""

    channels: dict[str, dict[str, Setting]] = field(default_factory=dict)
    quiet_hours: QuietHours | None = None
    digest_time: time = DEFAULT_DIGEST_TIME
    time_zone: str | None = None
    slack_webhook_url: str | None = None


@dataclass(frozen=True)
class TenantDefaults:
    channels: dict[str, dict[str, Setting]] = field(default_factory=dict)
    locked: frozenset[str] = frozenset()  # categories people cannot change


@dataclass(frozen=True)
class ChannelDecision:
    channel: PersonChannel
    setting: Setting
    source: Source
    reason: str


def decide(
    category: Category,
    channel: PersonChannel,
    prefs: Preferences,
    defaults: TenantDefaults,
    *,
    has_email: bool,
) -> ChannelDecision:
    """The setting that applies to one category on one channel, and where it came from."""
    tenant = defaults.channels.get(category, {}).get(channel)
    person = prefs.channels.get(category, {}).get(channel)
    setting: Setting
    source: Source
    if category in defaults.locked and tenant is not None:
        setting, source = tenant, "tenant_locked"
        reason = f"the tenant locked {category} on {channel} to {tenant}"
    elif person is not None:
        setting, source = person, "person"
        reason = f"the person set {category} on {channel} to {person}"
    elif tenant is not None:
        setting, source = tenant, "tenant_default"
        reason = f"the tenant default for {category} on {channel} is {tenant}"
    else:
        setting, source = BUILT_IN[category][channel], "built_in"
        reason = f"the built-in default for {category} on {channel} is {setting}"
    if setting != "off" and channel == "slack" and not prefs.slack_webhook_url:
        return ChannelDecision(channel, "off", source, "no Slack webhook URL is set")
    if setting != "off" and channel == "email" and not has_email:
        return ChannelDecision(channel, "off", source, "the person has no email address")
    return ChannelDecision(channel, setting, source, reason)


def decisions(
    category: Category, prefs: Preferences, defaults: TenantDefaults, has_email: bool
) -> list[ChannelDecision]:
    """The inbox's decision, then the outbound channels'."""
    return [
        decide(category, channel, prefs, defaults, has_email=has_email)
        for channel in PERSON_CHANNELS
    ]


def time_zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def validate_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r} (use an IANA name like Europe/Paris)"
        ) from None
    return name


def quiet_until(now: datetime, tz: ZoneInfo, quiet: QuietHours | None) -> datetime | None:
    """When the quiet hours around ``now`` end (UTC), or None when it is not quiet."""
    if quiet is None:
        return None
    local = now.astimezone(tz)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return None
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def local_day(now: datetime, tz: ZoneInfo) -> tuple[str, datetime]:
    """The person's local date (ISO) and the UTC instant it started."""
    local = now.astimezone(tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return local.date().isoformat(), start.astimezone(UTC)


def digest_due(now: datetime, tz: ZoneInfo, at: time) -> str | None:
    """The local date whose digest is due at ``now`` (its time has passed today), else None."""
    local = now.astimezone(tz)
    if local.time().replace(tzinfo=None) >= at:
        return local.date().isoformat()
    return None


def retry_delay(schedule: list[float], attempts: int, retry_after: float | None) -> float | None:
    """Seconds before the next attempt after ``attempts`` failed ones; None: give up."""
    if attempts >= len(schedule):
        return None
    delay = schedule[attempts]
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def matches(patterns: Sequence[str], event_type: str) -> bool:
    """Whether a subscription's patterns (exact types, or prefixes ending in ``*``) take a type."""
    return any(
        event_type.startswith(p[:-1]) if p.endswith("*") else event_type == p for p in patterns
    )
