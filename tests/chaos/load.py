"""An open-loop webhook load generator that behaves like a real sender.

Deliveries start at a fixed rate (bounded by a cap on requests in flight). A delivery that is not
answered with a 2xx (503, 429, 5xx, a refused or cut connection, a timeout) is retried with the
same ``webhook-id`` and a fresh signature, as Standard Webhooks senders do, until it is accepted
or the load is told to give up. Every attempt is remembered with its time and answer.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.chaos.harness import KpiSource

FINAL_4XX = {400, 401, 403, 404, 413, 422}


@dataclass
class Attempt:
    at: float  # monotonic, when the answer (or error) came
    status: int | str


@dataclass
class Delivery:
    webhook_id: str
    points: list[dict[str, Any]]
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """Answered 202 (recorded now, or a duplicate recorded by an earlier attempt) or 200."""
        return any(a.status in (200, 202) for a in self.attempts)

    @property
    def point_ids(self) -> list[str]:
        return [p["id"] for p in self.points]


class Load:
    def __init__(
        self,
        source: KpiSource,
        make_points: Callable[[int], list[dict[str, Any]]],
        *,
        rate: float,
        max_in_flight: int = 16,
        request_timeout: float = 5.0,
        retry: bool = True,
        retry_delay: float = 0.5,
    ) -> None:
        self.source = source
        self.make_points = make_points
        self.rate = rate
        self.retry = retry
        self.retry_delay = retry_delay
        self.deliveries: list[Delivery] = []
        self._sem = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._give_up = asyncio.Event()
        self._client = httpx.AsyncClient(
            timeout=request_timeout,
            limits=httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=8),
        )
        self._counter = itertools.count()
        self._runner: asyncio.Task[None] | None = None
        self.started_at = time.monotonic()

    # ---------------------------------------------------------------- driving

    def start(self) -> None:
        self.started_at = time.monotonic()
        self._runner = asyncio.create_task(self._run())

    async def _run(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            # wait for a free slot without blocking stop(): stuck deliveries may hold them all
            slot = asyncio.ensure_future(self._sem.acquire())
            stopped = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({slot, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not slot.done():
                slot.cancel()
                break
            if self._stop.is_set():
                self._sem.release()
                break
            n = next(self._counter)
            delivery = Delivery(f"msg_chaos_{n:06d}_{id(self) % 10_000}", self.make_points(n))
            self.deliveries.append(delivery)
            task = asyncio.create_task(self._deliver(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    pass
            else:
                next_at = time.monotonic()  # saturated: do not burst to catch up

    async def send_one(self, delivery: Delivery) -> int | str:
        body, headers = self.source.signed(delivery.points, delivery.webhook_id)
        try:
            r = await self._client.post(self.source.url, content=body, headers=headers)
            status: int | str = r.status_code
        except httpx.TimeoutException:
            status = "timeout"
        except httpx.TransportError as exc:
            status = type(exc).__name__
        delivery.attempts.append(Attempt(time.monotonic(), status))
        return status

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            while True:
                status = await self.send_one(delivery)
                if status in (200, 202) or status in FINAL_4XX or not self.retry:
                    return
                if self._give_up.is_set():
                    return
                try:
                    await asyncio.wait_for(self._give_up.wait(), self.retry_delay)
                except TimeoutError:
                    pass
        finally:
            self._sem.release()

    async def stop(self, drain_timeout: float) -> None:
        """No new deliveries; retry the open ones for up to ``drain_timeout`` seconds."""
        self._stop.set()
        if self._runner is not None:
            await self._runner
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=drain_timeout)
        self._give_up.set()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=30)
        await self._client.aclose()

    # ---------------------------------------------------------------- results

    @property
    def statuses(self) -> Counter[str]:
        return Counter(str(a.status) for d in self.deliveries for a in d.attempts)

    def accepted_ids(self) -> list[str]:
        return [pid for d in self.deliveries if d.accepted for pid in d.point_ids]

    def unaccepted(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.accepted]

    def attempts_between(self, start: float, end: float) -> Counter[str]:
        return Counter(
            str(a.status) for d in self.deliveries for a in d.attempts if start <= a.at <= end
        )
