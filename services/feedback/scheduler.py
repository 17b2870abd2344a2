"""The request scheduler: closes overdue requests and sends the reminders that are due.

Several replicas may run it; a lease in the store (``shared.leases``) lets one of them work at a
time, as in goals' scheduler. Each request is also saved under its version with deterministic
event ids, so even two holders could not send one reminder twice.
"""

from __future__ import annotations

import uuid
from contextlib import suppress

from services.feedback.repository import MongoLeases
from services.feedback.service import FeedbackRequests
from shared.background import BackgroundLoop
from shared.observability import get_logger
from shared.time import Clock

log = get_logger(__name__)

LEASE = "feedback-scheduler"


class RequestScheduler:
    def __init__(
        self,
        requests: FeedbackRequests,
        leases: MongoLeases,
        *,
        clock: Clock,
        interval_s: float = 60.0,
        lease_ttl_s: float = 120.0,
        holder: str | None = None,
    ) -> None:
        self.requests = requests
        self.leases = leases
        self.clock = clock
        self.lease_ttl_s = lease_ttl_s
        self.holder = holder or uuid.uuid4().hex
        self._loop = BackgroundLoop("feedback-scheduler", self._round, interval_s)

    async def tick(self) -> bool:
        """One round if this replica holds the lease; False otherwise."""
        if not await self.leases.acquire(LEASE, self.holder, self.clock(), self.lease_ttl_s):
            return False
        # expiry first: a request past its due date gets no reminder
        expired = await self.requests.expire_overdue()
        reminded = await self.requests.remind_due()
        if expired or reminded:
            log.info("request scheduler round", expired=expired, reminders=reminded)
        return True

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop(timeout_s=10)
        with suppress(Exception):
            await self.leases.release(LEASE, self.holder)

    async def _round(self) -> None:
        await self.tick()
