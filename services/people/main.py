"""The people service: HR integration: SCIM 2.0, HRIS imports, people, org chart and mentorships."""

from __future__ import annotations

from fastapi import FastAPI

from services.people import api
from services.people.config import PeopleSettings
from services.people.imports import HrisImports
from services.people.mentorships import Mentorships
from services.people.repository import INDEXES, PeopleRepository
from services.people.scim import api as scim_api
from services.people.scim.errors import SCIM_ERROR_FORMAT, render_scim_error
from services.people.scim.protocol import build_provider
from services.people.scim.resources import ScimResources
from services.people.service import PeopleService
from services.people.tokens import ScimTokens
from shared.app import Lifecycle, create_service_app
from shared.events import topics


def create_app(settings: PeopleSettings | None = None) -> FastAPI:
    settings = settings or PeopleSettings()
    max_results = settings.scim_max_results

    async def wiring(service: Lifecycle) -> None:
        repo = PeopleRepository(service.db)
        outbox = service.relay(repo)
        people = PeopleService(repo, notify=outbox.notify)
        service.provide(
            people=people,
            mentorships=Mentorships(repo, notify=outbox.notify),
            scim_tokens=ScimTokens(repo),
            scim_resources=ScimResources(people, build_provider(max_results), max_results),
            imports=HrisImports(
                people,
                max_deactivation_share=settings.import_max_deactivation_share,
                max_rows=settings.import_max_rows,
            ),
        )

    return create_service_app(
        name="people",
        settings=settings,
        routers=[scim_api.router, api.router],
        indexes=INDEXES,
        topics=[topics.PEOPLE],
        wiring=wiring,
        error_renderers={scim_api.PREFIX: render_scim_error},
        error_formats={scim_api.PREFIX: SCIM_ERROR_FORMAT},
        description="HR integration: SCIM 2.0, HRIS imports, people, org chart and mentorships.",
    )
