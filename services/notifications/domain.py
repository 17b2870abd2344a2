"""The rules of notifying people: which event concerns whom, through which channel, and when.

Pure: no I/O. The service feeds it events, preferences and the time, and stores what it decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import InvalidInput

Category = Literal[
    "celebration",
    "review_due",
    "at_risk",
    "feedback_requested",
    "feedback_received",
    "kpi_alert",
    "welcome",
]
CATEGORIES: tuple[Category, ...] = (
    "celebration",
    "review_due",
    "at_risk",
    "feedback_requested",
    "feedback_received",
    "kpi_alert",
    "welcome",
)
PersonChannel = Literal["inbox", "email", "slack"]
PERSON_CHANNELS: tuple[PersonChannel, ...] = ("inbox", "email", "slack")
OUTBOUND_CHANNELS = ("email", "slack", "webhook")
Setting = Literal["on", "off", "digest"]
Source = Literal["person", "tenant_default", "tenant_locked", "built_in"]

Audience = Literal[
    "owner", "manager", "mentors", "reviewer", "requester", "metric_owners", "person"
]


# delivery states (one document per event, recipient and channel)
PENDING = "pending"  # due at ``due_at``
SENDING = "sending"  # claimed by a worker until ``lease_until``
DELIVERED = "delivered"
FAILED = "failed"  # gave up
DIGEST = "digest"  # waits for the recipient's next daily digest
DIGESTED = "digested"  # went out inside a digest
SUPPRESSED = "suppressed"  # dropped (reminder already done, subscription disabled...)


@dataclass(frozen=True)
class Rule:
    name: str
    category: Category
    audience: tuple[Audience, ...]
    description: str


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "northstar.goal.milestone_reached.v1",
            "celebration",
            ("owner", "manager", "mentors"),
            "a goal milestone is celebrated with its owner, their manager and mentors",
        ),
        Rule(
            "northstar.goal.achieved.v1",
            "celebration",
            ("owner", "manager", "mentors"),
            "an achieved goal is celebrated with its owner, their manager and mentors",
        ),
        Rule(
            "northstar.goal.review_due.v1",
            "review_due",
            ("owner", "manager"),
            "a goal review that is due goes to the owner and their manager",
        ),
        Rule(
            "northstar.goal.at_risk.v1",
            "at_risk",
            ("owner", "manager"),
            "a goal at risk is flagged to the owner and their manager",
        ),
        Rule(
            "northstar.feedback.requested.v1",
            "feedback_requested",
            ("reviewer",),
            "a feedback request goes to the reviewer asked",
        ),
        Rule(
            "northstar.feedback.submitted.v1",
            "feedback_received",
            ("requester",),
            "submitted feedback is announced to the person who asked for it",
        ),
        Rule(
            "northstar.feedback.released.v1",
            "feedback_received",
            ("requester",),
            "released anonymous feedback is announced to the person who asked for it",
        ),
        Rule(
            "northstar.kpi.threshold.crossed.v1",
            "kpi_alert",
            ("metric_owners",),
            "a KPI threshold crossing goes to the people whose active goals are bound to it",
        ),
        Rule(
            "northstar.kpi.stale.v1",
            "kpi_alert",
            ("metric_owners",),
            "a stale KPI goes to the people whose active goals are bound to it",
        ),
        Rule(
            "northstar.person.upserted.v1",
            "welcome",
            ("person",),
            "a newly created person is welcomed",
        ),
    )
}

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "setting": self.setting,
            "source": self.source,
            "reason": self.reason,
        }


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


def describe(event_type: str, data: dict[str, Any]) -> tuple[str, str]:
    """A title and one-line summary for the people reading the notification."""
    title_of_goal = data.get("title", "your goal")
    progress = data.get("progress")
    pct = f"{round(float(progress) * 100)} %" if isinstance(progress, int | float) else ""
    match event_type:
        case "northstar.goal.milestone_reached.v1":
            return (
                f"Milestone reached: {title_of_goal}",
                f"The goal \u201c{title_of_goal}\u201d reached its {data.get('milestone')} "
                f"milestone ({pct}).",
            )
        case "northstar.goal.achieved.v1":
            return (
                f"Goal achieved: {title_of_goal}",
                f"The goal \u201c{title_of_goal}\u201d is achieved. Congratulations!",
            )
        case "northstar.goal.review_due.v1":
            return (
                f"Review due: {title_of_goal}",
                f"The goal \u201c{title_of_goal}\u201d is due for review on {data.get('due_on')}.",
            )
        case "northstar.goal.at_risk.v1":
            expected = data.get("expected_progress")
            exp = f"{round(float(expected) * 100)} %" if isinstance(expected, int | float) else ""
            return (
                f"Goal at risk: {title_of_goal}",
                f"The goal \u201c{title_of_goal}\u201d is at {pct}, {exp} was expected by now.",
            )
        case "northstar.feedback.requested.v1":
            due = f" by {data['due_date']}" if data.get("due_date") else ""
            return ("Your feedback is requested", f"You are asked for feedback{due}.")
        case "northstar.feedback.submitted.v1":
            return ("Feedback received", "Feedback you asked for has been submitted.")
        case "northstar.feedback.released.v1":
            return (
                "Anonymous feedback is ready",
                f"{data.get('response_count')} responses to your request can now be read.",
            )
        case "northstar.kpi.threshold.crossed.v1":
            return (
                f"KPI {data.get('metric')} crossed {data.get('threshold')}",
                f"{data.get('metric')} went {data.get('direction')} to {data.get('value')}.",
            )
        case "northstar.kpi.stale.v1":
            return (
                f"KPI {data.get('metric')} is stale",
                f"No data for {data.get('metric')} since {data.get('last_seen') or 'ever'}.",
            )
        case "northstar.person.upserted.v1":
            name = data.get("display_name") or data.get("user_name")
            return ("Welcome to Northstar", f"Welcome, {name}! Set your first career goal.")
    return (event_type, "")
