"""The lifecycle of a service: what it declares starts in one order and stops in the reverse."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from fastapi import FastAPI

from shared.config import CommonSettings
from shared.lifecycle import Lifecycle, Runtime
from shared.messaging import Router

# nothing listens there: a consumer that tried to start would fail at once
NO_BROKER = "127.0.0.1:1"


class Recorded:
    """A job that writes its start and stop into a shared journal."""

    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal

    async def start(self) -> None:
        self.journal.append(f"{self.name} started")

    async def stop(self) -> None:
        self.journal.append(f"{self.name} stopped")


def lifecycle(app: FastAPI, **settings: Any) -> Lifecycle:
    unused: Any = None  # no client is touched by what these tests declare
    runtime = Runtime(
        settings=CommonSettings(kafka_bootstrap_servers=NO_BROKER, **settings),
        mongo=unused,
        db=unused,
        producer=unused,
        verifier=unused,
    )
    return Lifecycle(app, runtime)


async def test_jobs_start_in_order_and_stop_in_reverse_before_the_closers_run() -> None:
    journal: list[str] = []
    service = lifecycle(FastAPI(), consumers_enabled=False)

    async def close() -> None:
        journal.append("client closed")

    service.on_stop(close)
    service.run(Recorded("scheduler", journal))
    service.run(Recorded("worker", journal))
    async with AsyncExitStack() as stack:
        await service.start(stack)
        assert journal == ["scheduler started", "worker started"]
    assert journal[2:] == ["worker stopped", "scheduler stopped", "client closed"]


async def test_a_replica_with_consumers_switched_off_starts_no_consumer() -> None:
    service = lifecycle(FastAPI(), consumers_enabled=False)
    service.consume(Router(), group="projections")
    async with AsyncExitStack() as stack:
        await service.start(stack)  # a consumer would have to reach NO_BROKER and fail


async def test_what_the_routes_use_and_the_outbox_are_on_app_state() -> None:
    app = FastAPI()
    service = lifecycle(app)
    service.provide(goals="the goal use cases")
    assert app.state.goals == "the goal use cases"
    assert app.state.outbox is service.outbox
    assert service.outbox.relays == []  # nothing declared, nothing relayed
