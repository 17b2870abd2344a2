"""A goal's timeline in its own collection, so neither the goal nor a point's cost grows with it.

How entries get there without being lost or orphaned, without multi-document transactions:
a save writes its new entries *inside the goal's versioned update* (``pending_timeline``),
exactly like the outbox; so they exist if and only if the change they describe was stored.
Each entry's ``_id`` is deterministic (goal id and ``seq`` = the version that save creates *
1000 + position: versions are unique per goal, so ``seq`` is a total order). When the pending
entries would pass ``TIMELINE_BATCH``, the save first inserts them into this collection (a
duplicate ``_id`` means an earlier attempt already did: idempotent), then replaces them with
its own. Until then a reader merges the pending entries with the collection. A crash anywhere
leaves the entries pending in the goal, in the collection, or both (deduplicated by ``seq``),
never lost, and no entry of a failed save is ever written anywhere.

Rejected: writing the entries before the save (a lost race leaves orphans), after it (a crash
loses them), or moving them with a relay (a second update of the goal for every point).
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.goals.records import TimelineEntry
from shared.mongo import Document, insert_missing

TIMELINE = "goal_timeline"
SEQ_PER_VERSION = 1000


def timeline_docs(
    tenant: str, goal_id: str, version: int, entries: Sequence[TimelineEntry]
) -> list[Document]:
    """The documents of one save's entries (``version``: the version that save creates)."""
    docs = []
    for position, entry in enumerate(entries):
        seq = version * SEQ_PER_VERSION + position
        docs.append(
            {
                "_id": f"{goal_id}:{seq:015d}",
                "tenant": tenant,
                "goal_id": goal_id,
                "seq": seq,
                "id": entry.id,
                "at": entry.at,
                "kind": entry.kind,
                **entry.data,
            }
        )
    return docs


class GoalTimeline:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.entries = db[TIMELINE]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            TIMELINE: [
                IndexModel([("tenant", ASCENDING), ("goal_id", ASCENDING), ("seq", ASCENDING)]),
                IndexModel([("tenant", ASCENDING), ("goal_id", ASCENDING), ("at", ASCENDING)]),
            ]
        }

    async def move(self, docs: Sequence[Document]) -> None:
        """Store entries that were pending in their goal; those already stored are skipped."""
        await insert_missing(self.entries, docs)

    async def page(
        self,
        tenant: str,
        goal_id: str,
        pending: Sequence[Document],
        *,
        after: int | None,
        limit: int,
    ) -> list[Document]:
        """Up to ``limit`` entries after ``after`` (seq), oldest first, pending ones merged."""
        query: Document = {"tenant": tenant, "goal_id": goal_id}
        if after is not None:
            query["seq"] = {"$gt": after}
        cursor = self.entries.find(query, {"_id": 0, "tenant": 0, "goal_id": 0})
        stored = [doc async for doc in cursor.sort("seq", ASCENDING).limit(limit)]
        merged = {doc["seq"]: doc for doc in stored}
        for doc in pending:
            if after is None or doc["seq"] > after:
                merged.setdefault(doc["seq"], _public(doc))
        return [merged[seq] for seq in sorted(merged)][:limit]


def _public(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if k not in ("_id", "tenant", "goal_id")}
