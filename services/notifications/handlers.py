"""The subscriptions of the notifications service, in one place."""

from __future__ import annotations

from services.notifications.service import Notifier
from shared.directory import PeopleDirectory
from shared.events import topics
from shared.events.envelope import CATALOGUE, EventPayload
from shared.messaging.consumer import Router

CONSUMED_TOPICS = (topics.PEOPLE, topics.GOALS, topics.FEEDBACK, topics.KPI_DATAPOINTS)
# raw data points only move goals; the goals service tells us what matters
IGNORED = frozenset({"northstar.kpi.datapoint.recorded.v1"})


def consumed_types() -> list[type[EventPayload]]:
    return [
        cls
        for name, cls in sorted(CATALOGUE.items())
        if cls.topic in CONSUMED_TOPICS and name not in IGNORED
    ]


def build_router(directory: PeopleDirectory, notifier: Notifier) -> Router:
    """The people projection first (recipients must be known), then the notification rules."""
    router = Router()
    directory.register(router)
    for payload_type in consumed_types():
        router.on(payload_type)(notifier.on_event)
    return router
