"""The people service: HR integration: SCIM 2.0, HRIS imports, people, org chart and mentorships."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.people import api, privacy_api
from services.people.config import PeopleSettings
from services.people.erasure import Erasures
from services.people.erasure_repository import INDEXES as ERASURE_INDEXES
from services.people.erasure_repository import ErasureRecords
from services.people.exports import Exports
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
from shared.events.envelope import Envelope
from shared.events.privacy import PersonErasureCompleted
from shared.messaging.consumer import Router


def erasure_router(erasures: Erasures) -> Router:
    """The people service's one subscription: each service's report of an erasure."""
    router = Router()

    @router.on(PersonErasureCompleted)
    async def on_erasure_completed(event: Envelope, payload: PersonErasureCompleted) -> None:
        """Mark the service done in the person's erasure."""
        await erasures.service_done(payload.tenant, payload.id, payload.service)

    return router


def create_app(
    settings: PeopleSettings | None = None,
    *,
    export_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``export_transport`` carries the export's calls to the services (tests route them to
    in-process apps)."""
    settings = settings or PeopleSettings()
    max_results = settings.scim_max_results

    async def wiring(service: Lifecycle) -> None:
        repo = PeopleRepository(service.db)
        outbox = service.relay(repo)
        people = PeopleService(repo, notify=outbox.notify)
        records = ErasureRecords(service.db)
        erasures = Erasures(people, records, settings.erasure_services, notify=outbox.notify)
        client = httpx.AsyncClient(transport=export_transport, timeout=settings.export_timeout_s)
        service.on_stop(client.aclose)
        service.consume(erasure_router(erasures), group="people")
        service.provide(
            erasures=erasures,
            exports=Exports(records, client, settings.service_urls),
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
        routers=[scim_api.router, api.router, privacy_api.router],
        indexes={**INDEXES, **ERASURE_INDEXES},
        topics=[topics.PEOPLE, topics.PRIVACY],
        wiring=wiring,
        error_renderers={scim_api.PREFIX: render_scim_error},
        error_formats={scim_api.PREFIX: SCIM_ERROR_FORMAT},
        description="HR integration: SCIM 2.0, HRIS imports, people, org chart and mentorships.",
    )
