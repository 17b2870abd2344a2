"""What the goals integration tests share: a running service, publishing, reading events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from services.goals.config import GoalsSettings
from services.goals.main import create_app
from shared.events import EventPayload, from_record, new_event, topics
from shared.events.envelope import Envelope
from shared.events.people import MentorshipStarted, PersonUpserted
from shared.messaging import EventProducer, ensure_topics
from shared.time import Clock, utcnow
from tests.support import bearer, eventually, isolated_settings, published, running


@dataclass
class Running:
    settings: GoalsSettings
    client: httpx.AsyncClient
    producer: EventProducer
    app: Any

    def auth(self, sub: str, *roles: str, tenant: str = "acme") -> dict[str, str]:
        return bearer(tenant, sub, *roles, settings=self.settings)

    async def publish(self, payload: EventPayload, subject: str, **kw: Any) -> Envelope:
        envelope = new_event(
            payload,
            tenant=payload.tenant,
            subject=subject,
            source="test",
            **kw,  # type: ignore[attr-defined]
        )
        await self.producer.publish(envelope)
        return envelope

    async def person(self, pid: str, manager: str | None = None, tenant: str = "acme") -> None:
        await self.publish(
            PersonUpserted(id=pid, tenant=tenant, user_name=pid, manager_id=manager), pid
        )

    async def mentorship(self, mentor: str, mentee: str, tenant: str = "acme") -> None:
        mid = f"{mentor}-{mentee}"
        await self.publish(
            MentorshipStarted(id=mid, tenant=tenant, mentor_id=mentor, mentee_id=mentee), mid
        )

    async def projected(self, tenant: str, pid: str, manager: str | None = None) -> None:
        directory = self.app.state.goals.directory

        async def check() -> bool:
            person = await directory.get(tenant, pid)
            return person is not None and person.manager_id == manager

        await eventually(check, timeout=30)


@asynccontextmanager
async def goals_service(clock: Clock = utcnow, **overrides: Any) -> AsyncIterator[Running]:
    overrides.setdefault("scheduler_enabled", False)
    settings = isolated_settings(GoalsSettings, **overrides)
    await ensure_topics(settings, topics.ALL, with_dlq=topics.ALL)
    app = create_app(settings, clock=clock)
    producer = EventProducer(settings)
    await producer.start()
    try:
        async with running(app) as client:
            yield Running(settings, client, producer, app)
    finally:
        await producer.stop()


async def goal_events(
    svc: Running,
    expect: Callable[[list[Envelope]], bool] = bool,
    *,
    timeout_s: float = 20.0,
) -> list[Envelope]:
    """Every event on the goals topic, once ``expect`` holds and the goals outbox holds nothing
    unpublished: an extra event the writes so far produced would be in the list (read to the
    topic's end, not until it goes quiet)."""
    records = await published(
        svc.app,
        topics.GOALS,
        lambda records: expect([_envelope(r) for r in records]),
        timeout=timeout_s,
    )
    return [_envelope(r) for r in records]


def _envelope(record: Any) -> Envelope:
    return from_record(record.value, list(record.headers))


def of_type(events: list[Envelope], name: str, goal_id: str | None = None) -> list[Envelope]:
    return [
        e
        for e in events
        if e.type == f"northstar.goal.{name}.v1" and (goal_id is None or e.subject == goal_id)
    ]
