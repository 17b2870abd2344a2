"""What a service runs beside its routes: outbox relays, consumers and periodic jobs.

A service's ``main.py`` declares them on the :class:`Lifecycle` it is handed at start-up; the app
factory then starts them on one exit stack (relays, then jobs, then consumers) and stops them in
the reverse order, so no consumer hands work to a relay or job that has already stopped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth import TokenVerifier
from shared.background import BackgroundLoop
from shared.config import CommonSettings
from shared.messaging.consumer import ConsumerRunner, Router
from shared.messaging.outbox import HasOutbox, Outbox, OutboxRelay
from shared.messaging.producer import EventProducer
from shared.mongo import Document


@dataclass
class Runtime:
    """The clients a running service shares (created in lifespan)."""

    settings: CommonSettings
    mongo: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    producer: EventProducer
    verifier: TokenVerifier
    readiness_checks: list[Callable[[], Any]] = field(default_factory=list)


class Job(Protocol):
    """Anything started with the service and stopped with it (a loop, a scheduler, a worker)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Lifecycle:
    """The declarations of one service: what it runs, and what its routes use."""

    def __init__(self, app: FastAPI, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.db = runtime.db
        self.producer = runtime.producer
        self.outbox = Outbox(self.producer, hold_s=self.settings.outbox_hold_s)
        self._app = app
        self._jobs: list[Job] = []
        self._consumers: list[ConsumerRunner] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []
        app.state.outbox = self.outbox

    def relay(self, *repositories: HasOutbox) -> Outbox:
        """Relay the outboxes the repositories declare; ``outbox.notify`` wakes the relays."""
        for repository in repositories:
            for collection in repository.outboxes:
                self.outbox.relays.append(
                    OutboxRelay(
                        collection,
                        self.producer,
                        service=self.settings.service_name,
                        poll_interval_s=self.settings.outbox_poll_interval_s,
                        published=self.outbox.published,
                        hold_s=self.settings.outbox_hold_s,
                    )
                )
        return self.outbox

    def consume(self, router: Router, *, group: str) -> None:
        """Consume the router's topics as ``group``, unless consumers are switched off here."""
        if self.settings.consumers_enabled:
            self._consumers.append(
                ConsumerRunner(
                    self.settings,
                    group=group,
                    router=router,
                    producer=self.producer,
                    max_batch=self.settings.consumer_max_batch,
                )
            )

    def run(self, job: Job) -> None:
        """Start ``job`` with the service and stop it on shutdown."""
        self._jobs.append(job)

    def every(self, interval_s: float, job: Callable[[], Awaitable[object]], *, name: str) -> None:
        """Call ``job`` every ``interval_s`` seconds; a failing call is logged and retried."""

        async def round_() -> None:
            await job()

        self.run(BackgroundLoop(name, round_, interval_s))

    def on_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Call ``close`` on shutdown, after everything the service runs has stopped."""
        self._closers.append(close)

    def provide(self, **objects: object) -> None:
        """Make the use cases the routes depend on available on ``app.state``."""
        for name, value in objects.items():
            setattr(self._app.state, name, value)

    async def start(self, stack: AsyncExitStack) -> None:
        """Start what was declared; ``stack`` stops it in the reverse order."""
        for close in self._closers:
            stack.push_async_callback(close)
        running: list[Job] = [*self.outbox.relays, *self._jobs, *self._consumers]
        for job in running:
            await job.start()
            stack.push_async_callback(job.stop)
