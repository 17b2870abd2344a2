"""Every subscription of the notifications service, in one place (thin adapters to the use cases).

Per event, in this order: the people projection, the goal → metric bindings, the notification
rule of its type (reminders it makes pointless, then the fan-out), and last the outbound
webhooks, which any subscriber may ask for by type or prefix.
"""

from __future__ import annotations

from services.notifications.domain import Parties
from services.notifications.service import Notifier
from shared.directory import PeopleDirectory
from shared.events import topics
from shared.events.envelope import CATALOGUE, Envelope, EventPayload
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
    GoalFacts,
    GoalMilestoneReached,
    GoalProgressUpdated,
    GoalReviewDue,
    GoalUpdateReminderDue,
)
from shared.events.kpi import KpiDatapointRecorded, KpiStale, KpiThresholdCrossed
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
from shared.messaging.consumer import Router

CONSUMED_TOPICS = (
    topics.PEOPLE,
    topics.GOALS,
    topics.FEEDBACK,
    topics.KPI_DATAPOINTS,
    topics.REVIEWS,
)
# raw data points only move goals (the goals service tells us what matters); too many for
# webhook subscribers
IGNORED: frozenset[type[EventPayload]] = frozenset({KpiDatapointRecorded})


def consumed_types() -> list[type[EventPayload]]:
    """Every type on the topics we read: webhook subscribers may ask for any of them."""
    return [
        cls
        for _, cls in sorted(CATALOGUE.items())
        if cls.topic in CONSUMED_TOPICS and cls not in IGNORED
    ]


def build_router(directory: PeopleDirectory, notifier: Notifier) -> Router:
    router = Router()
    directory.register(router)  # recipients must be known before the rules run

    async def on_goal(event: Envelope, payload: GoalFacts) -> None:
        """Keep the goal's metric bindings (KPI alerts go to the owners of bound goals)."""
        await notifier.track_goal(payload)

    for goal_event in consumed_types():
        # a progress event never changes what a binding holds (owner, status, bound metrics:
        # those change with the goal's created/updated/status events, in order on its key), and
        # it is the one event every KPI point causes: no write for it here
        if issubclass(goal_event, GoalFacts) and goal_event is not GoalProgressUpdated:
            router.on(goal_event)(on_goal)

    @router.on(GoalMilestoneReached)
    async def on_milestone_reached(event: Envelope, payload: GoalMilestoneReached) -> None:
        """Celebrate with the owner, their manager and mentors."""
        await notifier.notify(event, payload, Parties(owner_id=payload.owner_id))

    @router.on(GoalAchieved)
    async def on_goal_achieved(event: Envelope, payload: GoalAchieved) -> None:
        """Its reminders are pointless now; celebrate."""
        await notifier.drop_reminders(event, payload)
        await notifier.notify(event, payload, Parties(owner_id=payload.owner_id))

    @router.on(GoalAbandoned)
    async def on_goal_abandoned(event: Envelope, payload: GoalAbandoned) -> None:
        """Its reminders are pointless now."""
        await notifier.drop_reminders(event, payload)

    @router.on(GoalReviewDue)
    async def on_review_due(event: Envelope, payload: GoalReviewDue) -> None:
        """Remind the owner and their manager."""
        await notifier.notify(event, payload, Parties(owner_id=payload.owner_id))

    @router.on(GoalAtRisk)
    async def on_goal_at_risk(event: Envelope, payload: GoalAtRisk) -> None:
        """Flag it to the owner and their manager."""
        await notifier.notify(event, payload, Parties(owner_id=payload.owner_id))

    @router.on(GoalUpdateReminderDue)
    async def on_update_reminder_due(event: Envelope, payload: GoalUpdateReminderDue) -> None:
        """Nudge the owner to update the key results of an idle goal."""
        await notifier.notify(event, payload, Parties(owner_id=payload.owner_id))

    @router.on(GoalCheckedIn)
    async def on_checked_in(event: Envelope, payload: GoalCheckedIn) -> None:
        """The goal's update nudge is pointless now."""
        await notifier.drop_reminders(event, payload)

    @router.on(GoalProgressUpdated)
    async def on_progress_updated(event: Envelope, payload: GoalProgressUpdated) -> None:
        """KPI movement makes the goal's update nudge pointless."""
        await notifier.drop_reminders(event, payload)

    @router.on(FeedbackRequested)
    async def on_feedback_requested(event: Envelope, payload: FeedbackRequested) -> None:
        """Ask the reviewer."""
        await notifier.notify(event, payload, Parties(reviewer_id=payload.reviewer_id))

    @router.on(FeedbackReminderDue)
    async def on_feedback_reminder_due(event: Envelope, payload: FeedbackReminderDue) -> None:
        """Remind the reviewer who has not answered."""
        await notifier.notify(event, payload, Parties(reviewer_id=payload.reviewer_id))

    @router.on(FeedbackSubmitted)
    async def on_feedback_submitted(event: Envelope, payload: FeedbackSubmitted) -> None:
        """The reviewer's reminder is pointless now; tell the requester."""
        await notifier.drop_reminders(event, payload)
        await notifier.notify(event, payload, Parties(requester_id=payload.requester_id))

    @router.on(FeedbackDeclined)
    async def on_feedback_declined(event: Envelope, payload: FeedbackDeclined) -> None:
        """The reviewer's reminder is pointless now."""
        await notifier.drop_reminders(event, payload)

    @router.on(FeedbackRequestExpired)
    async def on_request_expired(event: Envelope, payload: FeedbackRequestExpired) -> None:
        """The open reviewers' reminders are pointless now."""
        await notifier.drop_reminders(event, payload)

    @router.on(FeedbackReleased)
    async def on_feedback_released(event: Envelope, payload: FeedbackReleased) -> None:
        """Tell the requester their anonymous feedback can be read."""
        await notifier.notify(event, payload, Parties(requester_id=payload.requester_id))

    @router.on(KpiThresholdCrossed)
    async def on_threshold_crossed(event: Envelope, payload: KpiThresholdCrossed) -> None:
        """Alert the owners of active goals bound to the metric."""
        await notifier.notify(event, payload, Parties(metric=payload.metric))

    @router.on(KpiStale)
    async def on_kpi_stale(event: Envelope, payload: KpiStale) -> None:
        """Alert the owners of active goals bound to the metric."""
        await notifier.notify(event, payload, Parties(metric=payload.metric))

    @router.on(PersonUpserted)
    async def on_person_upserted(event: Envelope, payload: PersonUpserted) -> None:
        """Welcome a person once, when they are created."""
        if payload.created:
            await notifier.notify(event, payload, Parties(person_id=payload.id))

    @router.on(MentorshipRequested)
    async def on_mentorship_requested(event: Envelope, payload: MentorshipRequested) -> None:
        """Ask the mentor named: nothing starts until they accept (people service)."""
        await notifier.notify(event, payload, Parties(person_id=payload.mentor_id))

    @router.on(ReviewAssigned)
    async def on_review_assigned(event: Envelope, payload: ReviewAssigned) -> None:
        """Ask the person for their self review."""
        await notifier.notify(event, payload, Parties(person_id=payload.person_id))

    @router.on(ReviewPeersNominated)
    async def on_peers_nominated(event: Envelope, payload: ReviewPeersNominated) -> None:
        """The person's reminder to nominate is pointless now; ask the manager to approve."""
        await notifier.drop_reminders(event, payload)
        await notifier.notify(event, payload, Parties(person_id=payload.manager_id))

    @router.on(ReviewPeerFeedbackRequested)
    async def on_peers_approved(event: Envelope, payload: ReviewPeerFeedbackRequested) -> None:
        """The reminder to approve is pointless now (feedback asks the peers itself)."""
        await notifier.drop_reminders(event, payload)

    @router.on(ReviewSubmitted)
    async def on_review_submitted(event: Envelope, payload: ReviewSubmitted) -> None:
        """The step's reminder is pointless now; a self review asks the manager for theirs."""
        await notifier.drop_reminders(event, payload)
        if payload.form == "self":
            await notifier.notify(event, payload, Parties(person_id=payload.manager_id))

    @router.on(ReviewReleased)
    async def on_review_released(event: Envelope, payload: ReviewReleased) -> None:
        """Ask the person to read and acknowledge it."""
        await notifier.notify(event, payload, Parties(person_id=payload.person_id))

    @router.on(ReviewAcknowledged)
    async def on_review_acknowledged(event: Envelope, payload: ReviewAcknowledged) -> None:
        """Tell the manager."""
        await notifier.notify(event, payload, Parties(person_id=payload.manager_id))

    @router.on(ReviewReminderDue)
    async def on_review_reminder(event: Envelope, payload: ReviewReminderDue) -> None:
        """Remind the person whose step it is."""
        await notifier.notify(event, payload, Parties(person_id=payload.recipient_id))

    async def offer_to_webhooks(event: Envelope, payload: EventPayload) -> None:
        """Queue the event for the tenant's webhook subscriptions that ask for it."""
        await notifier.offer_to_webhooks(event)

    for event_type in consumed_types():
        router.on(event_type)(offer_to_webhooks)

    @router.on_batch(GoalProgressUpdated)
    async def on_progress_run(run: list[tuple[Envelope, GoalProgressUpdated]]) -> None:
        """A run of progress events (one per KPI point a goal takes): their reminders dropped
        in two round trips, then offered to the webhooks, as the handlers above do."""
        await notifier.drop_reminders_of_run(run)
        await notifier.offer_many_to_webhooks([event for event, _ in run])

    return router
