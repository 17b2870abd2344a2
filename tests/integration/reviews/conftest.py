"""The reviews service and the real feedback service, side by side on the real servers (one run
id: they share topics), with a settable clock for the reviews service and helpers to seed the
people projection, publish other services' events and read the reviews topic."""

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
from services.feedback.main import create_app as feedback_app
from services.reviews.config import ReviewsSettings
from services.reviews.main import create_app as reviews_app
from shared.directory import PeopleDirectory
from shared.events import Envelope, from_record, new_event, topics
from shared.events.envelope import EventPayload
from shared.events.people import PersonUpserted
from shared.messaging import ensure_topics
from tests.doubles import SettableClock
from tests.support import bearer, eventually, isolated_settings, read_topic, running, unique

START = datetime.now(UTC).replace(microsecond=0)
SKILLS = [
    "communication",
    "data_analysis",
    "leadership",
    "customer_centric",
    "industry_knowledge",
    "ux_design",
]


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    feedback: httpx.AsyncClient
    feedback_app: FastAPI
    clock: SettableClock
    settings: ReviewsSettings

    @property
    def directory(self) -> PeopleDirectory:
        return PeopleDirectory(self.app.state.runtime.db)

    async def publish(self, payload: EventPayload, *, subject: str, **kw: Any) -> Envelope:
        tenant = getattr(payload, "tenant")  # noqa: B009 - every payload of ours names it
        event = new_event(payload, tenant=tenant, subject=subject, source="tests", **kw)
        await self.app.state.runtime.producer.publish(event)
        return event

    async def org(self, tenant: str, people: dict[str, tuple[str | None, str | None]]) -> None:
        """People (id -> (manager, department)); waits until both services projected them."""
        for pid, (manager, department) in people.items():
            await self.publish(
                PersonUpserted(
                    id=pid,
                    tenant=tenant,
                    user_name=f"{pid}@x.test",
                    display_name=pid.title(),
                    manager_id=manager,
                    department=department,
                ),
                subject=pid,
            )
        feedback_directory = PeopleDirectory(self.feedback_app.state.runtime.db)

        async def projected() -> bool:
            ours = await self.directory.many(tenant, list(people))
            theirs = await feedback_directory.many(tenant, list(people))
            return len(ours) == len(people) == len(theirs)

        await eventually(projected, timeout=30)

    async def call(
        self, method: str, url: str, who: tuple[str, str], *roles: str, **kwargs: Any
    ) -> httpx.Response:
        tenant, sub = who
        headers = bearer(tenant, sub, *roles, settings=self.settings)
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def review_events(
        self, tenant: str, expected: int, *, linger_s: float = 1.0
    ) -> list[Envelope]:
        """The tenant's events on the reviews topic, once per event id (at-least-once)."""
        await self.app.state.outbox.drain()

        def unique_events(records: list[Any]) -> list[Envelope]:
            events: dict[str, Envelope] = {}
            for record in records:
                event = from_record(record.value, list(record.headers))
                events.setdefault(event.id, event)
            return list(events.values())

        records = await read_topic(
            self.settings,
            topics.REVIEWS,
            keep=lambda record: dict(record.headers)["ce_tenant"].decode() == tenant,
            enough=lambda records: len(unique_events(records)) >= expected,
            linger_s=linger_s,
            timeout=30,
        )
        return unique_events(records)


def deadlines(days: dict[str, int] | None = None) -> dict[str, str]:
    """Deadlines, days after START: self 10, peers 12, manager 20, calibration 25, release 30."""
    offsets = {
        "self_review": 10,
        "peer_feedback": 12,
        "manager_review": 20,
        "calibration": 25,
        "release": 30,
        **(days or {}),
    }
    return {step: (START.date() + timedelta(days=n)).isoformat() for step, n in offsets.items()}


def cycle_body(population: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {
        "name": kw.get("name", "H2 review"),
        "period_start": (START.date() - timedelta(days=90)).isoformat(),
        "period_end": START.date().isoformat(),
        "population": population,
        "deadlines": kw.get("deadlines", deadlines()),
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env() -> AsyncIterator[Env]:
    clock = SettableClock(START)
    run_id = unique()
    settings = isolated_settings(ReviewsSettings, run_id, scheduler_enabled=False)
    fb_settings = isolated_settings(FeedbackSettings, run_id)
    await ensure_topics(settings, topics.ALL, with_dlq=topics.ALL)
    app = reviews_app(settings, clock=clock)
    fb_app = feedback_app(fb_settings)
    async with running(fb_app) as fb_client, running(app) as client:
        yield Env(app, client, fb_client, fb_app, clock, settings)


@pytest.fixture(autouse=True)
def reset_clock(env: Env) -> None:
    env.clock.now = START
