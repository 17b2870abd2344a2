"""One running feedback service per test module on the real servers, a controllable clock,
and helpers to seed the people projection and read the feedback topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from services.feedback.config import FeedbackSettings
from services.feedback.main import create_app
from shared.directory import PeopleDirectory
from shared.events import Envelope, from_record, new_event, topics
from shared.events.envelope import EventPayload
from shared.events.people import MentorshipStarted, PersonUpserted
from tests.doubles import SettableClock
from tests.support import bearer, eventually, isolated_settings, published, running, unique

START = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    clock: SettableClock
    settings: FeedbackSettings

    @property
    def directory(self) -> PeopleDirectory:
        return PeopleDirectory(self.app.state.runtime.db)

    async def publish(self, payload: EventPayload, *, tenant: str, subject: str) -> Envelope:
        event = new_event(payload, tenant=tenant, subject=subject, source="tests")
        await self.app.state.runtime.producer.publish(event)
        return event

    async def org(self, tenant: str, people: dict[str, str | None]) -> None:
        """Publish people (id -> manager id) on the people topic; wait for the projection."""
        for pid, manager in people.items():
            await self.publish(
                PersonUpserted(
                    id=pid, tenant=tenant, user_name=f"{pid}@x.test", manager_id=manager
                ),
                tenant=tenant,
                subject=pid,
            )

        async def projected() -> bool:
            known = await self.directory.many(tenant, list(people))
            return len(known) == len(people)

        await eventually(projected)

    async def mentorship(self, tenant: str, mentor: str, mentee: str) -> None:
        await self.publish(
            MentorshipStarted(id=unique("m"), tenant=tenant, mentor_id=mentor, mentee_id=mentee),
            tenant=tenant,
            subject=mentee,
        )

        async def projected() -> bool:
            return mentor in await self.directory.mentors_of(tenant, mentee)

        await eventually(projected)

    async def call(
        self, method: str, url: str, who: tuple[str, str], *roles: str, **kwargs: Any
    ) -> httpx.Response:
        tenant, sub = who
        return await self.client.request(method, url, headers=bearer(tenant, sub, *roles), **kwargs)

    async def drain(self) -> None:
        await self.app.state.outbox.drain()

    async def feedback_events(self, tenant: str, expected: int) -> list[Envelope]:
        """Every event of this tenant on the feedback topic, once at least ``expected`` are
        there and the outbox holds nothing unpublished (read to the topic's end: an extra or
        repeated event is in the list, not waited out)."""
        records = await published(
            self.app,
            topics.FEEDBACK,
            lambda records: len(records) >= expected,
            keep=lambda record: dict(record.headers)["ce_tenant"].decode() == tenant,
        )
        return [from_record(r.value, list(r.headers)) for r in records]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env() -> AsyncIterator[Env]:
    clock = SettableClock(START)
    settings = isolated_settings(FeedbackSettings, expiry_interval_s=0.2)
    app = create_app(settings, clock=clock)
    async with running(app) as client:
        yield Env(app=app, client=client, clock=clock, settings=settings)


@pytest.fixture(autouse=True)
def reset_clock(env: Env) -> None:
    env.clock.now = START


def due(env: Env, days: int = 7) -> str:
    return (env.clock.today() + timedelta(days=days)).isoformat()
