"""The reassessment scheduler: reviews due, risk as time passes, update nudges, guard pruning.

Several replicas may run it; a lease document (taken with ``find_one_and_update`` on its expiry
time) lets one of them work at a time. Each goal is also saved under its version with a
deterministic event id, so even two holders could not emit one review twice.
"""

from __future__ import annotations

import uuid
from contextlib import suppress

from services.goals.reactions import GoalReactions
from shared.background import BackgroundLoop
from shared.observability import get_logger

log = get_logger(__name__)

LEASE = "goals-scheduler"


class ReviewScheduler:
    def __init__(
        self,
        reactions: GoalReactions,
        *,
        interval_s: float = 60.0,
        lease_ttl_s: float = 120.0,
        holder: str | None = None,
    ) -> None:
        self.reactions = reactions
        self.repo = reactions.repo
        self.clock = reactions.store.clock
        self.interval_s = interval_s
        self.lease_ttl_s = lease_ttl_s
        self.holder = holder or uuid.uuid4().hex
        self._loop = BackgroundLoop("goals-scheduler", self._round, interval_s)

    async def tick(self) -> bool:
        """One round of scheduled work if this replica holds the lease; False otherwise."""
        now = self.clock()
        if not await self.repo.acquire_lease(LEASE, self.holder, now, self.lease_ttl_s):
            return False
        today = now.date()
        reviews = await self.reactions.emit_due_reviews(today)
        risks = await self.reactions.assess_risks(today)
        nudges = await self.reactions.emit_update_reminders(now)
        pruned = await self.reactions.prune_guards()
        indexed = await self.reactions.index_unbound_goals()
        if reviews or risks or nudges or pruned or indexed:
            log.info(
                "scheduler round",
                reviews_due=reviews,
                at_risk=risks,
                update_reminders=nudges,
                pruned=pruned,
                indexed=indexed,
            )
        return True

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop(timeout_s=10)
        with suppress(Exception):
            await self.repo.release_lease(LEASE, self.holder)

    async def _round(self) -> None:
        await self.tick()
