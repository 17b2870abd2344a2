"""What people read: the title and one-line summary of a notification, per kind of event."""

from __future__ import annotations

from shared.events.envelope import EventPayload
from shared.events.feedback import (
    FeedbackReleased,
    FeedbackReminderDue,
    FeedbackRequested,
    FeedbackSubmitted,
)
from shared.events.goals import (
    GoalAchieved,
    GoalAtRisk,
    GoalMilestoneReached,
    GoalReviewDue,
    GoalUpdateReminderDue,
)
from shared.events.kpi import KpiStale, KpiThresholdCrossed
from shared.events.people import MentorshipRequested, PersonUpserted
from shared.events.reviews import (
    ReviewAcknowledged,
    ReviewAssigned,
    ReviewPeersNominated,
    ReviewReleased,
    ReviewReminderDue,
    ReviewSubmitted,
)

STEP_NAMES = {
    "self_review": "your self review",
    "peer_feedback": "the peer feedback step",
    "manager_review": "the manager review",
    "calibration": "calibration",
    "release": "the release",
}


def _percent(fraction: float) -> str:
    return f"{round(fraction * 100)} %"


def describe(payload: EventPayload) -> tuple[str, str]:
    """A title and one-line summary for the people reading the notification."""
    match payload:
        case GoalMilestoneReached():
            return (
                f"Milestone reached: {payload.title}",
                f"The goal \u201c{payload.title}\u201d reached its {payload.milestone} "
                f"milestone ({_percent(payload.progress)}).",
            )
        case GoalAchieved():
            return (
                f"Goal achieved: {payload.title}",
                f"The goal \u201c{payload.title}\u201d is achieved. Congratulations!",
            )
        case GoalReviewDue():
            return (
                f"Review due: {payload.title}",
                f"The goal \u201c{payload.title}\u201d is due for review on {payload.due_on}.",
            )
        case GoalAtRisk():
            return (
                f"Goal at risk: {payload.title}",
                f"The goal \u201c{payload.title}\u201d is at {_percent(payload.progress)}, "
                f"{_percent(payload.expected_progress)} was expected by now.",
            )
        case FeedbackRequested():
            due = f" by {payload.due_date}" if payload.due_date else ""
            return ("Your feedback is requested", f"You are asked for feedback{due}.")
        case FeedbackSubmitted():
            return ("Feedback received", "Feedback you asked for has been submitted.")
        case FeedbackReleased():
            return (
                "Anonymous feedback is ready",
                f"{payload.response_count} responses to your request can now be read.",
            )
        case KpiThresholdCrossed():
            return (
                f"KPI {payload.metric} crossed {payload.threshold}",
                f"{payload.metric} went {payload.direction} to {payload.value}.",
            )
        case KpiStale():
            # the instant as it travels in the event (RFC 3339), as people saw it before
            last_seen = payload.model_dump(mode="json")["last_seen"]
            return (
                f"KPI {payload.metric} is stale",
                f"No data for {payload.metric} since {last_seen or 'ever'}.",
            )
        case GoalUpdateReminderDue():
            return (
                f"Update your key results: {payload.title}",
                f"The goal \u201c{payload.title}\u201d has had no check-in and no KPI movement "
                f"for {payload.idle_days} days. A quick check-in keeps it on track.",
            )
        case FeedbackReminderDue():
            if payload.reminder == "expires_soon":
                return (
                    "Last day to give your feedback",
                    f"The feedback you were asked for closes at the end of {payload.due_date} "
                    "(UTC).",
                )
            return (
                "Reminder: your feedback is requested",
                f"You were asked for feedback a few days ago; it is due by {payload.due_date}.",
            )
        case PersonUpserted():
            name = payload.display_name or payload.user_name
            return ("Welcome to Northstar", f"Welcome, {name}! Set your first career goal.")
        case MentorshipRequested():
            focus = f" on {', '.join(payload.focus_skills)}" if payload.focus_skills else ""
            return (
                "You are asked to be a mentor",
                f"A colleague asked you to mentor them{focus}. Nothing starts until you accept; "
                "you can also decline.",
            )
        case ReviewAssigned():
            return (
                f"Your review is open: {payload.cycle_name}",
                f"Write your self review by {payload.self_review_due} and nominate peers.",
            )
        case ReviewPeersNominated():
            return ("Peers to approve", "Peers were nominated for a review you manage.")
        case ReviewSubmitted():
            return ("Self review submitted", "A self review is in: write the manager review.")
        case ReviewReleased():
            return ("Your review is released", "Read your review and acknowledge it.")
        case ReviewAcknowledged():
            return ("Review acknowledged", "A review you wrote was acknowledged.")
        case ReviewReminderDue():
            what = STEP_NAMES.get(payload.step, payload.step)
            return ("Review step due soon", f"Please complete {what} by {payload.due_on}.")
    return (payload.event_type, "")
