"""The people service: HR integration: SCIM 2.0, HRIS imports, people, org chart and mentorships."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.people import api
from services.people.config import PeopleSettings
from services.people.imports import HrisImports
from services.people.mentorships import Mentorships
from services.people.repository import GROUPS, INDEXES, MENTORSHIPS, PEOPLE, PeopleRepository
from services.people.scim import api as scim_api
from services.people.scim.errors import render_scim_error
from services.people.scim.protocol import build_provider
from services.people.scim.resources import ScimResources
from services.people.service import PeopleService
from services.people.tokens import ScimTokens
from shared.app import Runtime, create_service_app
from shared.events import topics
from shared.messaging import OutboxRelay, ensure_topics
from shared.mongo import ensure_indexes


def create_app(settings: PeopleSettings | None = None) -> FastAPI:
    settings = settings or PeopleSettings()

    @asynccontextmanager
    async def wiring(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        await ensure_indexes(runtime.db, INDEXES)
        await ensure_topics(settings, [topics.PEOPLE])
        repo = PeopleRepository(runtime.db)
        relays = [
            OutboxRelay(
                runtime.db[name],
                runtime.producer,
                service="people",
                poll_interval_s=settings.outbox_poll_interval_s,
            )
            for name in (PEOPLE, GROUPS, MENTORSHIPS)
        ]

        def notify() -> None:
            for relay in relays:
                relay.notify()

        people = PeopleService(repo, notify=notify)
        app.state.people = people
        app.state.relays = relays
        app.state.scim_tokens = ScimTokens(repo)
        app.state.scim_resources = ScimResources(
            people, build_provider(settings.scim_max_results), settings.scim_max_results
        )
        app.state.mentorships = Mentorships(repo, notify=notify)
        app.state.imports = HrisImports(
            people,
            max_deactivation_share=settings.import_max_deactivation_share,
            max_rows=settings.import_max_rows,
        )
        for relay in relays:
            await relay.start()
        try:
            yield
        finally:
            for relay in relays:
                await relay.stop()

    app = create_service_app(
        name="people",
        settings=settings,
        routers=[scim_api.router, api.router],
        wiring=wiring,
        description="HR integration: SCIM 2.0, HRIS imports, people, org chart and mentorships.",
    )
    app.state.error_renderers.append((scim_api.PREFIX, render_scim_error))
    return app
