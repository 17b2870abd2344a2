"""The reminder scheduler: each review step due soon and not done is reminded once.

Several replicas may run it; a lease document lets one of them work at a time. Each reminder
is also recorded in its review's document under its version, with a deterministic event id,
so even two holders could not send one reminder twice.
"""

from __future__ import annotations

import uuid
from contextlib import suppress

from services.reviews.service import ReviewService
from shared.background import BackgroundLoop
from shared.observability import get_logger

log = get_logger(__name__)

LEASE = "reviews-scheduler"


class ReminderScheduler:
    def __init__(
        self,
        reviews: ReviewService,
        *,
        interval_s: float = 300.0,
        lease_ttl_s: float = 600.0,
        holder: str | None = None,
    ) -> None:
        self.reviews = reviews
        self.repo = reviews.repo
        self.clock = reviews.store.clock
        self.lease_ttl_s = lease_ttl_s
        self.holder = holder or uuid.uuid4().hex
        self._loop = BackgroundLoop("reviews-scheduler", self._round, interval_s)

    async def tick(self) -> bool:
        """One round if this replica holds the lease; False otherwise."""
        now = self.clock()
        if not await self.repo.acquire_lease(LEASE, self.holder, now, self.lease_ttl_s):
            return False
        reminded = await self.reviews.remind(now.date())
        if reminded:
            log.info("scheduler round", reminders=reminded)
        return True

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop(timeout_s=10)
        with suppress(Exception):
            await self.repo.release_lease(LEASE, self.holder)

    async def _round(self) -> None:
        await self.tick()
