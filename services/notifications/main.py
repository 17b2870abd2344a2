"""The notifications service: inbox, email, Slack and signed webhooks, with preferences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.notifications.api import router as api_router
from services.notifications.channels import EmailSender, HttpSender
from services.notifications.clock import Clock, SystemClock
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import DeliveryQueue
from services.notifications.handlers import build_router
from services.notifications.inbox import Inbox, InboxHub
from services.notifications.preferences import PreferenceCenter
from services.notifications.repository import NotificationStore
from services.notifications.service import Notifier
from services.notifications.ssrf import UrlGuard
from services.notifications.worker import Dispatcher
from shared.app import Runtime, create_service_app
from shared.directory import PeopleDirectory
from shared.events import topics
from shared.messaging import ConsumerRunner, OutboxRelay, ensure_topics
from shared.mongo import ensure_indexes


def create_app(
    settings: NotificationsSettings | None = None,
    *,
    clock: Clock | None = None,
    guard: UrlGuard | None = None,
) -> FastAPI:
    settings = settings or NotificationsSettings()
    clock = clock or SystemClock()
    guard = guard or UrlGuard(settings.outbound_allow_list)

    @asynccontextmanager
    async def wiring(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        db = runtime.db
        store = NotificationStore(db)
        queue = DeliveryQueue(db)
        directory = PeopleDirectory(db)
        await ensure_indexes(
            db, {**store.indexes(), **queue.indexes(), **PeopleDirectory.indexes()}
        )
        await ensure_topics(settings, [topics.NOTIFICATIONS])
        hub = InboxHub()
        http = HttpSender(settings, guard)
        relay = OutboxRelay(
            queue.collection,
            runtime.producer,
            service=settings.service_name,
            poll_interval_s=settings.outbox_poll_interval_s,
        )
        dispatcher = Dispatcher(
            settings,
            store,
            queue,
            directory,
            clock,
            EmailSender(settings),
            http,
            on_events=relay.notify,
        )
        notifier = Notifier(
            store,
            queue,
            directory,
            clock,
            hub,
            service=settings.service_name,
            wake=dispatcher.notify,
        )
        consumer = ConsumerRunner(
            settings,
            group="notifications",
            router=build_router(directory, notifier),
            producer=runtime.producer,
        )
        app.state.inbox = Inbox(store, hub, clock)
        app.state.preferences = PreferenceCenter(store, queue, guard, clock)
        app.state.notifier = notifier
        app.state.dispatcher = dispatcher
        app.state.clock = clock
        await relay.start()
        await dispatcher.start()
        await consumer.start()
        try:
            yield
        finally:
            await consumer.stop()
            await dispatcher.stop()
            await relay.stop()
            await http.close()

    return create_service_app(
        name="notifications",
        settings=settings,
        routers=[api_router],
        wiring=wiring,
        description="Fan-out to inbox, email, Slack and signed webhooks, with preferences.",
    )
