"""The goals service: Career goals, key results that move with KPIs, milestones and reviews."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.goals.api import router
from services.goals.common import GoalStore
from services.goals.config import GoalsSettings
from services.goals.handlers import build_router
from services.goals.reactions import GoalReactions
from services.goals.repository import GoalRepository, indexes
from services.goals.scheduler import ReviewScheduler
from services.goals.service import GoalService
from shared.app import Runtime, create_service_app
from shared.directory import PeopleDirectory
from shared.events import topics
from shared.messaging import ConsumerRunner, OutboxRelay, ensure_topics
from shared.mongo import ensure_indexes


def create_app(settings: GoalsSettings | None = None) -> FastAPI:
    settings = settings or GoalsSettings()

    @asynccontextmanager
    async def wiring(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        await ensure_indexes(runtime.db, indexes())
        await ensure_topics(settings, [topics.GOALS])
        repo = GoalRepository(runtime.db)
        directory = PeopleDirectory(runtime.db)
        relay = OutboxRelay(
            repo.goals,
            runtime.producer,
            service=settings.service_name,
            poll_interval_s=settings.outbox_poll_interval_s,
        )
        store = GoalStore(repo, default_margin=settings.at_risk_margin, notify=relay.notify)
        reactions = GoalReactions(store, retention_days=settings.applied_retention_days)
        runner = ConsumerRunner(
            settings,
            group=settings.consumer_group,
            router=build_router(directory, reactions),
            producer=runtime.producer,
        )
        scheduler = ReviewScheduler(
            reactions,
            interval_s=settings.scheduler_interval_s,
            lease_ttl_s=settings.scheduler_lease_ttl_s,
        )
        app.state.goals = GoalService(store, directory)
        app.state.reactions = reactions
        app.state.scheduler = scheduler
        app.state.relay = relay
        await relay.start()
        await runner.start()
        if settings.scheduler_enabled:
            await scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
            await runner.stop()
            await relay.stop()

    return create_service_app(
        name="goals",
        settings=settings,
        routers=[router],
        wiring=wiring,
        description="Career goals, key results that move with KPIs, milestones and reviews.",
    )
