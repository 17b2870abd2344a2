"""The queries of the update nudge (``services.goals.nudges``), a mixin of ``GoalRepository``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pymongo import ASCENDING, IndexModel

from services.goals.nudges import LOOK_NOW

if TYPE_CHECKING:
    from pymongo.asynchronous.collection import AsyncCollection

    from shared.mongo import Document

# the scheduler's look-up of active goals whose nudge may be due, across tenants
UPDATE_CHECK_INDEX = IndexModel(
    [("status", ASCENDING), ("update_check_at", ASCENDING), ("tenant", ASCENDING)]
)


class ReminderQueries:
    if TYPE_CHECKING:
        goals: AsyncCollection[Document]

    async def update_reminders_due(self, now: datetime, limit: int = 500) -> list[tuple[str, str]]:
        """Active goals whose update nudge may be due (stored before nudges existed: all)."""
        cursor = self.goals.find(
            {
                "status": "active",
                "$or": [
                    {"update_check_at": {"$lte": now}},
                    {"update_check_at": {"$exists": False}},
                ],
            },
            {"_id": 1, "tenant": 1},
        ).limit(limit)
        return [(doc["tenant"], doc["_id"]) async for doc in cursor]

    async def set_update_check(self, tenant: str, goal_id: str, at: datetime | None) -> None:
        """When to look again; outside the versioned save, so a person editing the goal at
        the same moment never loses their change to this bookkeeping (as ``risk_checked_on``)."""
        await self.goals.update_one(
            {"_id": goal_id, "tenant": tenant}, {"$set": {"update_check_at": at or LOOK_NOW}}
        )

    async def recheck_update_reminders(self, tenant: str) -> None:
        """The tenant changed N: its active goals are looked at again at the next round."""
        await self.goals.update_many(
            {"tenant": tenant, "status": "active"}, {"$set": {"update_check_at": LOOK_NOW}}
        )
