"""One running notifications service per test module, with real receivers around it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app
from shared.directory import PeopleDirectory
from shared.events import new_event
from shared.events.envelope import Envelope, EventPayload
from shared.events.people import MentorshipStarted, PersonUpserted
from tests.doubles import AdjustableClock
from tests.integration.notifications.receivers import SmtpSink, WebhookReceiver
from tests.support import bearer, eventually, isolated_settings, running, unique

START = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # a Tuesday morning, UTC


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient
    clock: AdjustableClock
    settings: NotificationsSettings

    async def publish(
        self, payload: EventPayload, *, tenant: str, subject: str, **kw: Any
    ) -> Envelope:
        event = new_event(payload, tenant=tenant, subject=subject, source="tests", **kw)
        await self.app.state.runtime.producer.publish(event)
        return event

    async def redeliver(self, event: Envelope) -> None:
        await self.app.state.runtime.producer.publish(event)

    @property
    def db(self) -> Any:
        return self.app.state.runtime.db

    async def person(
        self,
        tenant: str,
        pid: str,
        *,
        manager: str | None = None,
        tz: str | None = None,
        created: bool = False,
        email: bool = True,
    ) -> str:
        address = f"{pid}@{tenant}.test"
        await self.publish(
            PersonUpserted(
                id=pid,
                tenant=tenant,
                user_name=address,
                display_name=pid.capitalize(),
                email=address if email else None,
                manager_id=manager,
                time_zone=tz,
                created=created,
            ),
            tenant=tenant,
            subject=pid,
        )
        directory = PeopleDirectory(self.db)
        await eventually(lambda: directory.get(tenant, pid))
        return address

    async def mentorship(self, tenant: str, mentor: str, mentee: str) -> None:
        await self.publish(
            MentorshipStarted(id=unique("m"), tenant=tenant, mentor_id=mentor, mentee_id=mentee),
            tenant=tenant,
            subject=mentee,
        )
        directory = PeopleDirectory(self.db)
        await eventually(lambda: _has_mentor(directory, tenant, mentee, mentor))

    def auth(self, tenant: str, sub: str, *roles: str) -> dict[str, str]:
        return bearer(tenant, sub, *roles, settings=self.settings)

    async def inbox(self, tenant: str, sub: str, **params: Any) -> dict[str, Any]:
        r = await self.client.get("/v1/inbox", params=params, headers=self.auth(tenant, sub))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def deliveries(self, tenant: str, event_id: str) -> list[dict[str, Any]]:
        r = await self.client.get(
            "/v1/deliveries",
            params={"event_id": event_id},
            headers=self.auth(tenant, "admin", "admin"),
        )
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items


async def _has_mentor(directory: PeopleDirectory, tenant: str, mentee: str, mentor: str) -> bool:
    return mentor in await directory.mentors_of(tenant, mentee)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    hooks.start()
    yield hooks
    hooks.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(smtp: SmtpSink, receiver: WebhookReceiver) -> AsyncIterator[Service]:
    settings = isolated_settings(
        NotificationsSettings,
        smtp_port=smtp.port,
        # the test receivers live on loopback: only their exact host:port is allowed
        outbound_allow_list=[f"127.0.0.1:{receiver.port}"],
        retry_schedule_s=[0, 0.2, 0.2, 0.2],
        worker_poll_interval_s=0.1,
        digest_check_interval_s=0.2,
        sse_poll_interval_s=0.3,
        daily_cap=3,
    )
    clock = AdjustableClock(START)
    app = create_app(settings, clock=clock)
    async with running(app) as client:
        yield Service(app, client, clock, settings)
