"""Kafka subscriptions of the feedback service, all in one place (thin adapters)."""

from __future__ import annotations

from services.feedback.service import FeedbackRequests
from shared.directory import PeopleDirectory
from shared.events.envelope import Envelope
from shared.events.goals import GoalAchieved, GoalFacts, GoalMilestoneReached
from shared.events.people import PersonManagerChanged
from shared.events.reviews import ReviewPeerFeedbackRequested
from shared.messaging.consumer import Router

HANDOVER_QUESTIONS = [
    "What is this person great at, and where are they growing?",
    "What are they working on now, and what support do they need from their new manager?",
    "Anything else their new manager should know?",
]


def build_router(directory: PeopleDirectory, requests: FeedbackRequests) -> Router:
    router = Router()
    # the people projection first, so our own reactions see the org chart it keeps
    directory.register(router)

    async def ask_goal_reviewers(event: Envelope, goal: GoalFacts, what: str) -> None:
        if not goal.feedback_reviewer_ids:
            return
        await requests.ask_on_behalf(
            event_id=event.id,
            tenant=goal.tenant,
            subject_id=goal.owner_id,
            requester_id=goal.owner_id,
            reviewer_ids=goal.feedback_reviewer_ids,
            questions=[
                f"{what} on the goal \u201c{goal.title}\u201d: what went well?",
                "What should they do differently next time?",
            ],
            kind="goal",
            goal_id=goal.goal_id,
        )

    @router.on(GoalMilestoneReached)
    async def on_milestone_reached(event: Envelope, goal: GoalMilestoneReached) -> None:
        """Ask the people the owner named for feedback when a milestone lands."""
        await ask_goal_reviewers(event, goal, f"Milestone {goal.milestone} reached")

    @router.on(GoalAchieved)
    async def on_goal_achieved(event: Envelope, goal: GoalAchieved) -> None:
        """Ask the people the owner named for feedback when the goal is achieved."""
        await ask_goal_reviewers(event, goal, "Goal achieved")

    @router.on(PersonManagerChanged)
    async def on_manager_changed(event: Envelope, change: PersonManagerChanged) -> None:
        """Ask the previous manager for a handover note about their former report."""
        if not change.old_manager_id or change.old_manager_id == change.new_manager_id:
            return
        await requests.ask_on_behalf(
            event_id=event.id,
            tenant=change.tenant,
            subject_id=change.id,
            requester_id=change.new_manager_id or change.id,
            reviewer_ids=[change.old_manager_id],
            questions=HANDOVER_QUESTIONS,
            kind="handover",
            relationship="manager",
        )

    @router.on(ReviewPeerFeedbackRequested)
    async def on_review_peers_approved(event: Envelope, ask: ReviewPeerFeedbackRequested) -> None:
        """Ask the approved peers of a review, under this service's anonymity rules."""
        await requests.ask_on_behalf(
            event_id=event.id,
            tenant=ask.tenant,
            subject_id=ask.subject_id,
            requester_id=ask.requester_id,
            reviewer_ids=ask.reviewer_ids,
            questions=ask.questions,
            kind="review",
            relationship="peer",
            skills=ask.skills,
            due_date=ask.due_date,
            anonymous=ask.anonymous,
            min_responses=ask.min_responses,
        )

    return router
