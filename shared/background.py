"""Background loops started in lifespan: the outbox relay, schedulers, workers, checkers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

from shared.observability import get_logger
from shared.tracing import new_trace

log = get_logger(__name__)

Round = Callable[[], Awaitable[bool | None]]


class BackgroundLoop:
    """Repeats one round of work until stopped.

    A round runs every ``interval_s``; at once again when it returns True (more work is
    waiting); sooner when :meth:`notify` is called. A failing round is logged and retried after
    ``error_pause_s``, so an outage of Kafka or the database never ends the loop.
    """

    def __init__(
        self, name: str, round_: Round, interval_s: float, *, error_pause_s: float = 1.0
    ) -> None:
        self.name = name
        self._round = round_
        self._interval = interval_s
        self._error_pause = error_pause_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stopping = False

    def notify(self) -> None:
        """Run the next round now rather than at the end of the interval."""
        self._wake.set()

    async def start(self) -> None:
        self.stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self, timeout_s: float = 15.0) -> None:
        """Let the round in progress finish (up to ``timeout_s``), then end the loop."""
        self.stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout_s)
            except TimeoutError:
                self._task.cancel()
                with suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    async def _run(self) -> None:
        while not self.stopping:
            # from here on a notify (a write during the round) or a stop wakes the pause after
            # the round: cleared at the pause instead, both were lost and the loop slept its
            # whole interval (a stop waited out its timeout)
            self._wake.clear()
            busy = False
            try:
                # each round is a trace of its own: the events and log lines of a scheduled
                # job are tied together (a round handling an event continues that event's)
                with new_trace(self.name):
                    busy = bool(await self._round())
            except Exception as exc:
                log.warning(
                    "background round failed; will retry",
                    loop=self.name,
                    error=f"{type(exc).__name__}: {exc}",
                )
                # a failed round waits its pause whatever was notified meanwhile; a stop ends it
                self._wake.clear()
                await self._pause(self._error_pause)
                continue
            if not busy:
                await self._pause(self._interval)

    async def _pause(self, seconds: float) -> None:
        if self.stopping:
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
