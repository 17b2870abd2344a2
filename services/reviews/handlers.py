"""Every subscription of the reviews service, in one place (thin adapters to the use cases)."""

from __future__ import annotations

from services.reviews.growth import CareerService
from services.reviews.intake import EvidenceIntake
from shared.directory import PeopleDirectory
from shared.events.envelope import CATALOGUE, Envelope
from shared.events.feedback import FeedbackGiven, FeedbackReleased, FeedbackSubmitted
from shared.events.goals import GoalFacts
from shared.events.people import GroupDeleted, GroupUpserted, PersonUpserted
from shared.messaging.consumer import Router


def build_router(
    directory: PeopleDirectory, intake: EvidenceIntake, career: CareerService
) -> Router:
    router = Router()
    # the people projection first: the title mapping below and every use case read it
    directory.register(router)

    @router.on(PersonUpserted)
    async def on_person_upserted(event: Envelope, person: PersonUpserted) -> None:
        """Map the job title to a level of the ladder, unless HR or a manager set one."""
        await career.map_title(person)

    @router.on(GroupUpserted)
    async def on_group_upserted(event: Envelope, group: GroupUpserted) -> None:
        """Remember the members: a cycle's population may be this group."""
        await intake.group_upserted(group)

    @router.on(GroupDeleted)
    async def on_group_deleted(event: Envelope, group: GroupDeleted) -> None:
        """Forget the group."""
        await intake.group_deleted(group)

    async def on_goal(event: Envelope, goal: GoalFacts) -> None:
        """The goal's state, and its progress, milestone or achievement, for the packet."""
        await intake.goal_changed(event, goal)

    for payload_type in CATALOGUE.values():
        if issubclass(payload_type, GoalFacts):
            router.on(payload_type)(on_goal)

    @router.on(FeedbackSubmitted)
    async def on_feedback_submitted(event: Envelope, answer: FeedbackSubmitted) -> None:
        """Ratings the person may read at once become evidence."""
        await intake.feedback_submitted(event, answer)

    @router.on(FeedbackReleased)
    async def on_feedback_released(event: Envelope, release: FeedbackReleased) -> None:
        """Released anonymous ratings become evidence, unnamed."""
        await intake.feedback_released(event, release)

    @router.on(FeedbackGiven)
    async def on_praise(event: Envelope, praise: FeedbackGiven) -> None:
        """Praise for the packet."""
        await intake.praise_given(event, praise)

    return router
