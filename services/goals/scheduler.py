"""The reassessment scheduler: reviews due, risk as time passes, update nudges, guard pruning.

Several replicas may run it; a lease document (taken with ``find_one_and_update`` on its expiry
time) lets one of them work at a time. Each goal is also saved under its version with a
deterministic event id, so even two holders could not emit one review twice.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from datetime import datetime, timedelta

from services.goals.reactions import GoalReactions, Looked
from shared.background import BackgroundLoop
from shared.observability import get_logger

log = get_logger(__name__)

LEASE = "goals-scheduler"
# what a skipped day-granular check counts as
SKIPPED = Looked(0, 0)


class ReviewScheduler:
    def __init__(
        self,
        reactions: GoalReactions,
        *,
        interval_s: float = 60.0,
        lease_ttl_s: float = 120.0,
        day_checks_every_s: float = 900.0,
        holder: str | None = None,
    ) -> None:
        self.reactions = reactions
        self.repo = reactions.repo
        self.clock = reactions.store.clock
        self.interval_s = interval_s
        self.lease_ttl_s = lease_ttl_s
        self.holder = holder or uuid.uuid4().hex
        self.day_checks_every = timedelta(seconds=day_checks_every_s)
        # when the day-granular checks last looked, and whether they found work then
        self._day_checked_at: datetime | None = None
        self._day_checks_busy = False
        self._loop = BackgroundLoop("goals-scheduler", self._round, interval_s)

    async def tick(self) -> bool:
        """One round of scheduled work if this replica holds the lease; False otherwise."""
        now = self.clock()
        if not await self.repo.acquire_lease(LEASE, self.holder, now, self.lease_ttl_s):
            return False
        today = now.date()
        day_checks = self.day_checks_due(now)
        reviews = await self.reactions.emit_due_reviews(today) if day_checks else SKIPPED
        risks = await self.reactions.assess_risks(today) if day_checks else SKIPPED
        nudges = await self.reactions.emit_update_reminders(now)
        pruned = await self.reactions.prune_guards() if day_checks else SKIPPED
        indexed = await self.reactions.index_unbound_goals()  # stops looking once none is left
        if day_checks:
            self._day_checked_at = now
            self._day_checks_busy = any(c.found for c in (reviews, risks, pruned))
        if reviews.changed or risks.changed or nudges or pruned.changed or indexed:
            log.info(
                "scheduler round",
                reviews_due=reviews.changed,
                at_risk=risks.changed,
                update_reminders=nudges,
                pruned=pruned.changed,
                indexed=indexed,
            )
        return True

    def day_checks_due(self, now: datetime) -> bool:
        """Whether this round looks for reviews due, risk as time passes and old guards.

        They change with the day (and the guards' retention by the hour), so they look at a
        day's first round, at every round while the last look found work (500 goals at a
        time), and otherwise every ``day_checks_every``. Each look is a scan of every goal on
        the local store (FerretDB evaluates a range or ``$ne`` outside the index): at 200
        points/s they and the nudge's look held PostgreSQL for ~0.56 s every minute
        (docs/bench-load.md).
        """
        last = self._day_checked_at
        return (
            last is None
            or self._day_checks_busy
            or last.date() != now.date()
            or now - last >= self.day_checks_every
        )

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop(timeout_s=10)
        with suppress(Exception):
            await self.repo.release_lease(LEASE, self.holder)

    async def _round(self) -> None:
        await self.tick()
