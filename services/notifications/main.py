"""The notifications service: inbox, email, Slack and signed webhooks, with preferences."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifications.api import router
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
from shared.app import Lifecycle, create_service_app
from shared.directory import PeopleDirectory
from shared.events import topics


def create_app(
    settings: NotificationsSettings | None = None,
    *,
    clock: Clock | None = None,
    guard: UrlGuard | None = None,
) -> FastAPI:
    settings = settings or NotificationsSettings()
    clock = clock or SystemClock()
    guard = guard or UrlGuard(settings.outbound_allow_list)

    async def wiring(service: Lifecycle) -> None:
        store, queue = NotificationStore(service.db), DeliveryQueue(service.db)
        directory, hub = PeopleDirectory(service.db), InboxHub()
        email, http = EmailSender(settings), HttpSender(settings, guard)
        service.on_stop(http.close)
        notify = service.relay(queue).notify
        dispatcher = Dispatcher(
            settings, store, queue, directory, clock, email, http, notify=notify
        )
        service.run(dispatcher)
        name = settings.service_name
        notifier = Notifier(
            store, queue, directory, clock, hub, service=name, notify=dispatcher.notify
        )
        service.consume(build_router(directory, notifier), group="notifications")
        service.provide(
            inbox=Inbox(store, hub, clock),
            preferences=PreferenceCenter(store, queue, guard, clock),
            dispatcher=dispatcher,
        )

    return create_service_app(
        name="notifications",
        settings=settings,
        routers=[router],
        indexes={
            **NotificationStore.indexes(),
            **DeliveryQueue.indexes(),
            **PeopleDirectory.indexes(),
        },
        topics=[topics.NOTIFICATIONS],
        wiring=wiring,
        description="Fan-out to inbox, email, Slack and signed webhooks, with preferences.",
    )
