"""Evidence taken in from other services' events: goal states and moves, feedback ratings,
praise, and SCIM groups (a cycle's population may be one)."""

from __future__ import annotations

from services.reviews.evidence import EvidenceRecords
from shared.erasure import Erased
from shared.events.envelope import Envelope
from shared.events.feedback import FeedbackGiven, FeedbackReleased, FeedbackSubmitted
from shared.events.goals import (
    GoalAchieved,
    GoalCreated,
    GoalFacts,
    GoalMilestoneReached,
    GoalProgressUpdated,
)
from shared.events.people import GroupDeleted, GroupUpserted
from shared.mongo import Document


class EvidenceIntake:
    """Each intake asks who was erased after its writes: an erasure recorded before them is
    seen and what they wrote is taken back; one recorded after them deletes it itself
    (``person.erased`` and these events travel on different topics, in either order)."""

    def __init__(self, records: EvidenceRecords, erased: Erased) -> None:
        self.records = records
        self.erased = erased

    async def goal_changed(self, event: Envelope, goal: GoalFacts) -> None:
        """Keep the goal's latest state, then the fact this event tells about it."""
        fields: Document = {
            "owner_id": goal.owner_id,
            "title": goal.title,
            "horizon": goal.horizon,
            "status": goal.status,
            "progress": goal.progress,
        }
        if isinstance(goal, GoalCreated):
            fields.update(skills=list(goal.skills), category=goal.category, created_at=event.time)
        if isinstance(goal, GoalAchieved):
            fields["achieved_at"] = event.time
        await self.records.track_goal(goal.tenant, goal.goal_id, fields, event.time)
        fact = _goal_fact(goal)
        base = {"person_id": goal.owner_id, "goal_id": goal.goal_id, "at": event.time}
        facts = [] if fact is None else [{**base, **fact}]
        await self._record_about(goal.tenant, event.id, goal.owner_id, facts, goal_id=goal.goal_id)

    async def feedback_submitted(self, event: Envelope, answer: FeedbackSubmitted) -> None:
        """Ratings readable at once (named, or anonymous after the release)."""
        if answer.ratings:
            fact = {"kind": "ratings", "ratings": dict(answer.ratings)}
            facts = [{**fact, "person_id": answer.subject_id, "at": event.time}]
            await self._record_about(answer.tenant, event.id, answer.subject_id, facts)

    async def feedback_released(self, event: Envelope, release: FeedbackReleased) -> None:
        """The anonymous answers' ratings, unnamed, as of the release."""
        facts = [
            {
                "kind": "ratings",
                "ratings": dict(r),
                "person_id": release.subject_id,
                "at": event.time,
            }
            for r in release.ratings
        ]
        await self._record_about(release.tenant, event.id, release.subject_id, facts)

    async def praise_given(self, event: Envelope, praise: FeedbackGiven) -> None:
        fact = {
            "kind": "praise",
            "person_id": praise.to_id,
            "from_id": praise.from_id,
            "skills": list(praise.skills),
            "visibility": praise.visibility,
            "at": event.time,
        }
        await self.records.record(praise.tenant, event.id, [fact])
        erased = await self.erased.among(praise.tenant, [praise.to_id, praise.from_id])
        if praise.to_id in erased:
            await self.records.take_back(praise.tenant, event.id, 1)
        elif praise.from_id in erased:
            await self.records.unname_giver(praise.tenant, event.id)

    async def _record_about(
        self,
        tenant: str,
        event_id: str,
        person_id: str,
        facts: list[Document],
        *,
        goal_id: str | None = None,
    ) -> None:
        """Store the event's facts about the person (and its goal's, ``track_goal`` done),
        then take them back if the person was erased."""
        await self.records.record(tenant, event_id, facts)
        if await self.erased.among(tenant, [person_id]):
            await self.records.take_back(tenant, event_id, len(facts), goal_id=goal_id)

    async def group_upserted(self, group: GroupUpserted) -> None:
        await self.records.put_group(group.tenant, group.id, list(group.member_ids))

    async def group_deleted(self, group: GroupDeleted) -> None:
        await self.records.drop_group(group.tenant, group.id)


def _goal_fact(goal: GoalFacts) -> Document | None:
    match goal:
        case GoalProgressUpdated():
            return {
                "kind": "progress",
                "old": goal.old_progress,
                "new": goal.new_progress,
                "cause": goal.cause.kind,
                "metric": goal.cause.metric,
            }
        case GoalMilestoneReached():
            return {"kind": "milestone", "milestone": goal.milestone}
        case GoalAchieved():
            return {"kind": "achieved"}
    return None
