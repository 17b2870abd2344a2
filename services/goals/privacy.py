"""What the goals service holds about a person, and how it forgets them (GDPR).

Erasure deletes the goals the person owned with their whole timeline (check-ins included)
and their KPI bindings; on other people's goals it keeps the record but removes the person:
``created_by``, the check-ins and status changes they made (author and note), their named
feedback, their place among a goal's feedback reviewers.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.goals.binding_repository import BINDINGS
from services.goals.repository import GOALS, PENDING_TIMELINE
from services.goals.timeline_repository import TIMELINE
from shared.erasure import ERASED, documents, rewrite, without
from shared.mongo import Document

# the places a goal or a timeline entry names a person other than its owner
MENTIONS = ("created_by", "feedback_reviewer_ids", "by", "reviewer_id", "cause.by")


def entry_changes(entry: dict[str, Any], person_id: str) -> dict[str, Any] | None:
    """The fields of a timeline entry that change to take the person out (their authorship
    and their words), or None when it does not name them."""
    changes: dict[str, Any] = {}
    if entry.get("by") == person_id:
        changes["by"] = ERASED
        if "note" in entry:
            changes["note"] = None
    if entry.get("reviewer_id") == person_id:
        changes["reviewer_id"] = None
    cause = entry.get("cause")
    if isinstance(cause, dict) and cause.get("by") == person_id:
        changes["cause"] = {**cause, "by": ERASED}
    return changes or None


def scrub_goal(doc: Document, person_id: str) -> Document | None:
    """The fields of someone else's goal that change when the person is erased."""
    fields: Document = {}
    if doc.get("created_by") == person_id:
        fields["created_by"] = ERASED
    reviewers = list(doc.get("feedback_reviewer_ids") or [])
    if person_id in reviewers:
        fields["feedback_reviewer_ids"] = without(reviewers, person_id)
    pending = list(doc.get(PENDING_TIMELINE) or [])
    changes = [entry_changes(e, person_id) for e in pending]
    if any(changes):
        fields[PENDING_TIMELINE] = [
            {**entry, **(change or {})} for entry, change in zip(pending, changes, strict=True)
        ]
    return fields or None


def _mentions(tenant: str, person_id: str) -> Document:
    return {"tenant": tenant, "$or": [{field: person_id} for field in MENTIONS]}


class GoalsPersonalData:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.goals = db[GOALS]
        self.timeline = db[TIMELINE]
        self.bindings = db[BINDINGS]

    async def _owned(self, tenant: str, person_id: str) -> list[str]:
        cursor = self.goals.find({"tenant": tenant, "owner_id": person_id}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def export(self, tenant: str, person_id: str) -> dict[str, list[Document]]:
        owned = await self._owned(tenant, person_id)
        return {
            GOALS: await documents(self.goals, {"tenant": tenant, "owner_id": person_id}),
            TIMELINE: await documents(self.timeline, {"tenant": tenant, "goal_id": {"$in": owned}}),
            "goal_activity": await documents(
                self.timeline, {**_mentions(tenant, person_id), "goal_id": {"$nin": owned}}
            ),
        }

    async def erase(self, tenant: str, person_id: str) -> None:
        owned = await self._owned(tenant, person_id)
        # the timeline and bindings first: a crash leaves the goal, so a retry finds them again
        await self.timeline.delete_many({"tenant": tenant, "goal_id": {"$in": owned}})
        for goal_id in owned:
            await self.bindings.update_many(
                {"tenant": tenant, "goal_ids": goal_id}, {"$pullAll": {"goal_ids": [goal_id]}}
            )
        await self.goals.delete_many({"tenant": tenant, "_id": {"$in": owned}})
        await rewrite(
            self.timeline, _mentions(tenant, person_id), lambda e: entry_changes(e, person_id)
        )
        others = {
            "tenant": tenant,
            "$or": [
                {"created_by": person_id},
                {"feedback_reviewer_ids": person_id},
                *({f"{PENDING_TIMELINE}.{f}": person_id} for f in ("by", "reviewer_id")),
                {f"{PENDING_TIMELINE}.cause.by": person_id},
            ],
        }
        await rewrite(self.goals, others, lambda doc: scrub_goal(doc, person_id))
