"""What reminders are about and has since been done: the store behind "a moot nudge is not sent".

A reminder (a feedback request or its reminder, a review due, a goal's update nudge) carries a
``ref``; the events that settle it (an answer, a decline, an expiry, a check-in, KPI movement, an
achieved or abandoned goal) record ``(ref, at)`` here, ``at`` being the settling event's time.
A waiting delivery is moot when its ref (or, for one reviewer, its whole request) was settled
at or after the time of the event that made it: checked when the event is fanned out, and again
by the worker right before it sends, so a delivery held by quiet hours, the daily cap or the
digest never goes out once it is pointless, whichever order the events and sends come in.
Both times come from the service that produced the two events, so they compare on one clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.notifications.domain import settling_refs
from shared.mongo import Document

SETTLED = "settled_refs"


def _id(tenant: str, ref: str) -> str:
    return f"{tenant}\x1f{ref}"


class SettledRefs:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[SETTLED]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {SETTLED: [IndexModel([("tenant", ASCENDING), ("ref", ASCENDING)], unique=True)]}

    async def settle_many(self, tenant: str, done: Sequence[tuple[str, datetime, str]]) -> None:
        """Remember that each ``ref`` was done at its ``at`` (the latest time wins; idempotent),
        in one round trip."""
        if done:
            await self.collection.bulk_write(
                [
                    UpdateOne(
                        {"_id": _id(tenant, ref)},
                        {
                            "$set": {"tenant": tenant, "ref": ref, "reason": reason},
                            "$max": {"at": at},
                        },
                        upsert=True,
                    )
                    for ref, at, reason in done
                ],
                ordered=False,
            )

    async def moot(self, tenant: str, ref: str | None, since: datetime) -> str | None:
        """Why a reminder about ``ref`` made at ``since`` is pointless now; None if it is not."""
        if ref is None:
            return None
        ids = [_id(tenant, r) for r in settling_refs(ref)]
        doc = await self.collection.find_one({"_id": {"$in": ids}, "at": {"$gte": since}})
        return str(doc["reason"]) if doc else None

    async def moot_among(
        self, tenant: str, reminders: Sequence[tuple[str, str | None, datetime]]
    ) -> dict[str, str]:
        """``moot`` for several (id, ref, since) at once: the moot ids, with why."""
        found: dict[str, str] = {}
        for item_id, ref, since in reminders:
            reason = await self.moot(tenant, ref, since)
            if reason is not None:
                found[item_id] = reason
        return found
