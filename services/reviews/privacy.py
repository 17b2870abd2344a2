"""What the reviews service holds about a person, and how it forgets them (GDPR).

Erasure deletes the person's reviews (their packets are built from them), career level, goal
facts and evidence. In other people's reviews the record stays and the person leaves it: as
their manager (``manager_id``, who submitted or calibrated), as a nominated or approved peer, as
the giver of praise kept as evidence; cycles they created are credited to ``erased``.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from services.reviews.career import LEVELS
from services.reviews.evidence import EVIDENCE, GOAL_FACTS, GROUPS
from services.reviews.repository import CYCLES, REVIEWS
from shared.erasure import ERASED, documents, rewrite, without
from shared.mongo import Document


def scrub_review(doc: Document, person_id: str) -> Document | None:
    """The fields of someone else's review that change when the person is erased."""
    fields: Document = {}
    if doc.get("manager_id") == person_id:
        fields["manager_id"] = None
    if doc.get("approved_by") == person_id:
        fields["approved_by"] = ERASED
    nominated = list(doc.get("nominated_peers") or [])
    if person_id in nominated:
        fields["nominated_peers"] = without(nominated, person_id)
    approved = doc.get("approved_peers")
    if isinstance(approved, list) and person_id in approved:
        fields["approved_peers"] = without(approved, person_id)
    boss = doc.get("manager_review")
    if isinstance(boss, dict) and boss.get("submitted_by") == person_id:
        fields["manager_review"] = {**boss, "submitted_by": ERASED}
    adjustments = list(doc.get("adjustments") or [])
    if any(a.get("by") == person_id for a in adjustments):
        fields["adjustments"] = [
            {**a, "by": ERASED} if a.get("by") == person_id else a for a in adjustments
        ]
    return fields or None


class ReviewsPersonalData:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.cycles = db[CYCLES]
        self.reviews = db[REVIEWS]
        self.goal_facts = db[GOAL_FACTS]
        self.evidence = db[EVIDENCE]
        self.groups = db[GROUPS]
        self.levels = db[LEVELS]

    async def export(self, tenant: str, person_id: str) -> dict[str, list[Document]]:
        return {
            REVIEWS: await documents(self.reviews, {"tenant": tenant, "person_id": person_id}),
            LEVELS: await documents(self.levels, {"tenant": tenant, "person_id": person_id}),
            GOAL_FACTS: await documents(self.goal_facts, {"tenant": tenant, "owner_id": person_id}),
            EVIDENCE: await documents(self.evidence, {"tenant": tenant, "person_id": person_id}),
        }

    async def erase(self, tenant: str, person_id: str) -> None:
        await self.reviews.delete_many({"tenant": tenant, "person_id": person_id})
        await self.levels.delete_many({"tenant": tenant, "person_id": person_id})
        await self.goal_facts.delete_many({"tenant": tenant, "owner_id": person_id})
        await self.evidence.delete_many({"tenant": tenant, "person_id": person_id})
        await self.evidence.update_many(
            {"tenant": tenant, "from_id": person_id}, {"$set": {"from_id": ERASED}}
        )
        await self.groups.update_many(
            {"tenant": tenant, "member_ids": person_id}, {"$pullAll": {"member_ids": [person_id]}}
        )
        await self.cycles.update_many(
            {"tenant": tenant, "created_by": person_id}, {"$set": {"created_by": ERASED}}
        )
        involved = {
            "tenant": tenant,
            "$or": [
                {"manager_id": person_id},
                {"approved_by": person_id},
                {"nominated_peers": person_id},
                {"approved_peers": person_id},
                {"manager_review.submitted_by": person_id},
                {"adjustments.by": person_id},
            ],
        }
        await rewrite(self.reviews, involved, lambda doc: scrub_review(doc, person_id))
