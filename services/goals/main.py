"""The goals service: Career goals, key results that move with KPIs, milestones and reviews."""

from __future__ import annotations

from fastapi import FastAPI

from services.goals.api import router
from services.goals.common import GoalStore
from services.goals.config import GoalsSettings
from services.goals.handlers import build_router
from services.goals.privacy import GoalsPersonalData
from services.goals.reactions import GoalReactions
from services.goals.repository import GoalRepository, indexes
from services.goals.scheduler import ReviewScheduler
from services.goals.service import GoalService
from shared.app import Lifecycle, create_service_app
from shared.directory import PeopleDirectory
from shared.erasure import data_router, register_erasure
from shared.events import topics
from shared.time import Clock, utcnow


def create_app(settings: GoalsSettings | None = None, *, clock: Clock = utcnow) -> FastAPI:
    settings = settings or GoalsSettings()

    async def wiring(service: Lifecycle) -> None:
        repo = GoalRepository(service.db)
        directory = PeopleDirectory(service.db)
        outbox = service.relay(repo)
        store = GoalStore(
            repo,
            default_margin=settings.at_risk_margin,
            default_reminder_days=settings.update_reminder_days,
            notify=outbox.notify,
            clock=clock,
            outbox=outbox,
        )
        reactions = GoalReactions(store, retention_days=settings.applied_retention_days)
        personal_data = GoalsPersonalData(service.db)
        subscriptions = build_router(directory, reactions)
        register_erasure(
            subscriptions,
            service="goals",
            data=personal_data,
            publisher=service.producer,
            directory=directory,
        )
        service.consume(subscriptions, group=settings.consumer_group)
        if settings.scheduler_enabled:
            service.run(
                ReviewScheduler(
                    reactions,
                    interval_s=settings.scheduler_interval_s,
                    lease_ttl_s=settings.scheduler_lease_ttl_s,
                    day_checks_every_s=settings.scheduler_day_checks_every_s,
                )
            )
        service.provide(
            goals=GoalService(store, directory), reactions=reactions, personal_data=personal_data
        )

    return create_service_app(
        name="goals",
        settings=settings,
        routers=[router, data_router("goals")],
        indexes=indexes(),
        topics=[topics.GOALS, topics.AUDIT, topics.PRIVACY],
        wiring=wiring,
        description="Career goals, key results that move with KPIs, milestones and reviews.",
    )
