"""What the feedback service holds about a person, and how it forgets them (GDPR).

Erasure deletes the feedback about the person (requests on them and praise to them) and their
sharing preference. Feedback they gave keeps only what an aggregate needs: their ratings stay,
their comments, answers and name go; their reviewer slot and praise are credited to
``erased``. An anonymous answer already carries no author, so it cannot be told apart and stays
as it is (its text is the one thing that may still describe them).
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from services.feedback.repository import PRAISE, REQUESTS, SHARING
from shared.erasure import ERASED, documents, replaced, rewrite, without
from shared.mongo import Document


def scrub_request(doc: Document, person_id: str) -> Document | None:
    """The fields of a request about someone else that change when the person is erased."""
    fields: Document = {}
    if doc.get("requester_id") == person_id:
        fields["requester_id"] = ERASED
    reviewers = list(doc.get("reviewers") or [])
    if any(r.get("person_id") == person_id for r in reviewers):
        fields["reviewers"] = [
            {**r, "person_id": ERASED} if r.get("person_id") == person_id else r for r in reviewers
        ]
        fields["reviewer_ids"] = replaced(list(doc.get("reviewer_ids") or []), person_id)
        fields["open_reviewer_ids"] = without(list(doc.get("open_reviewer_ids") or []), person_id)
    responses = list(doc.get("responses") or [])
    if any(r.get("reviewer_id") == person_id for r in responses):
        fields["responses"] = [
            {**r, "reviewer_id": None, "relationship": None, "comments": None, "answers": []}
            if r.get("reviewer_id") == person_id
            else r
            for r in responses
        ]
    return fields or None


class FeedbackPersonalData:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.requests = db[REQUESTS]
        self.praise = db[PRAISE]
        self.sharing = db[SHARING]

    async def export(self, tenant: str, person_id: str) -> dict[str, list[Document]]:
        given = await documents(self.requests, {"tenant": tenant, "reviewer_ids": person_id})
        for doc in given:  # their own answers only: the others' belong to the others
            doc["responses"] = [
                r for r in doc.get("responses", []) if r.get("reviewer_id") == person_id
            ]
        return {
            "requests_about_them": await documents(
                self.requests, {"tenant": tenant, "subject_id": person_id}
            ),
            "requests_they_made": await documents(
                self.requests,
                {"tenant": tenant, "requester_id": person_id, "subject_id": {"$ne": person_id}},
            ),
            "requests_they_were_asked": given,
            "praise_given": await documents(self.praise, {"tenant": tenant, "from_id": person_id}),
            "praise_received": await documents(self.praise, {"tenant": tenant, "to_id": person_id}),
            SHARING: await documents(self.sharing, {"tenant": tenant, "person_id": person_id}),
        }

    async def erase(self, tenant: str, person_id: str) -> None:
        await self.requests.delete_many({"tenant": tenant, "subject_id": person_id})
        await self.praise.delete_many({"tenant": tenant, "to_id": person_id})
        await self.sharing.delete_many({"tenant": tenant, "person_id": person_id})
        involved = {
            "tenant": tenant,
            "$or": [
                {"requester_id": person_id},
                {"reviewer_ids": person_id},
                {"responses.reviewer_id": person_id},
            ],
        }
        await rewrite(self.requests, involved, lambda doc: scrub_request(doc, person_id))
        await self.praise.update_many(
            {"tenant": tenant, "from_id": person_id},
            {"$set": {"from_id": ERASED, "comment": ""}},
        )
