"""The reassessment scheduler: reviews due, risk as time passes, guard pruning.

Several replicas may run it; a lease document (taken with ``find_one_and_update`` on its expiry
time) lets one of them work at a time. Each goal is also saved under its version with a
deterministic event id, so even two holders could not emit one review twice.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress

from services.goals.reactions import GoalReactions
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
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def tick(self) -> bool:
        """One round of scheduled work if this replica holds the lease; False otherwise."""
        now = self.clock()
        if not await self.repo.acquire_lease(LEASE, self.holder, now, self.lease_ttl_s):
            return False
        today = now.date()
        reviews = await self.reactions.emit_due_reviews(today)
        risks = await self.reactions.assess_risks(today)
        pruned = await self.reactions.prune_guards()
        if reviews or risks or pruned:
            log.info("scheduler round", reviews_due=reviews, at_risk=risks, pruned=pruned)
        return True

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="goals-scheduler")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except TimeoutError:
                self._task.cancel()
            self._task = None
        with suppress(Exception):
            await self.repo.release_lease(LEASE, self.holder)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception as exc:  # an outage: try again next round
                log.warning("scheduler round failed", error=f"{type(exc).__name__}: {exc}")
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
