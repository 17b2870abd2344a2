"""The people service: HR integration: SCIM 2.0, HRIS imports, people, org chart and mentorships."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI

from services.people import api, api_keys_api, audit_api, privacy_api
from services.people.api_keys import INDEXES as API_KEY_INDEXES
from services.people.api_keys import ApiKeyRepository, ApiKeys
from services.people.audit import (
    AUDIT_INDEXES,
    PURGE_BATCH,
    AuditRecords,
    AuditRetention,
    audit_router,
)
from services.people.config import PeopleSettings
from services.people.erasure import Erasures
from services.people.erasure_repository import INDEXES as ERASURE_INDEXES
from services.people.erasure_repository import ErasureRecords
from services.people.exports import Exports
from services.people.imports import HrisImports
from services.people.mentorships import Mentorships
from services.people.reports import api as reports_api
from services.people.reports.projection import reports_router
from services.people.reports.repository import REPORT_INDEXES, ReportStore
from services.people.reports.service import Reports
from services.people.repository import INDEXES, PeopleRepository
from services.people.scim import api as scim_api
from services.people.scim.errors import SCIM_ERROR_FORMAT, render_scim_error
from services.people.scim.protocol import build_provider
from services.people.scim.resources import ScimResources
from services.people.service import PeopleService
from services.people.tokens import ScimTokens
from shared.app import Lifecycle, create_service_app
from shared.audit import AuditTrail
from shared.background import BackgroundLoop
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
        audit_records, trail = AuditRecords(service.db), AuditTrail(service.db)
        key_repo = ApiKeyRepository(service.db)
        outbox = service.relay(repo, audit_records, trail, key_repo)
        api_keys = ApiKeys(
            key_repo,
            default_ttl=timedelta(days=settings.api_key_default_ttl_days),
            max_ttl=timedelta(days=settings.api_key_max_ttl_days),
            touch_interval=timedelta(seconds=settings.api_key_last_used_interval_s),
            notify=outbox.notify,
        )
        # this service checks keys in its own store, not over HTTP
        service.runtime.verifier.api_keys = api_keys_api.LocalIntrospector(
            api_keys, settings.api_keys_cache_ttl_s
        )
        people = PeopleService(repo, notify=outbox.notify)
        service.consume(audit_router(audit_records), group=settings.audit_consumer_group)
        if settings.audit_purge_enabled:
            retention = AuditRetention(
                audit_records, uuid.uuid4().hex, lease_ttl_s=settings.audit_purge_lease_ttl_s
            )

            async def purge_round() -> bool:
                purged = await retention.round()
                return purged is not None and purged >= PURGE_BATCH  # more may be waiting

            service.run(
                BackgroundLoop(
                    "people-audit-retention", purge_round, settings.audit_purge_interval_s
                )
            )
        report_store = ReportStore(service.db)
        service.consume(reports_router(report_store), group=settings.reports_consumer_group)
        records = ErasureRecords(service.db)
        erasures = Erasures(
            people,
            records,
            settings.erasure_services,
            notify=outbox.notify,
            audit=audit_records,
            reports=report_store,
        )
        client = httpx.AsyncClient(transport=export_transport, timeout=settings.export_timeout_s)
        service.on_stop(client.aclose)
        service.consume(erasure_router(erasures), group="people")
        service.provide(
            api_keys=api_keys,
            erasures=erasures,
            exports=Exports(records, client, settings.service_urls),
            people=people,
            audit_records=audit_records,
            audit_trail=trail,
            reports=Reports(
                report_store,
                stale_after_days=settings.reports_stale_after_days,
                min_answers=settings.reports_min_answers,
                default_period_days=settings.reports_default_period_days,
            ),
            mentorships=Mentorships(repo, notify=outbox.notify),
            scim_tokens=ScimTokens(repo, notify=outbox.notify),
            scim_resources=ScimResources(people, build_provider(max_results), max_results),
            imports=HrisImports(
                people,
                trail,
                notify=outbox.notify,
                max_deactivation_share=settings.import_max_deactivation_share,
                max_rows=settings.import_max_rows,
            ),
        )

    return create_service_app(
        name="people",
        settings=settings,
        routers=[
            scim_api.router,
            api.router,
            api_keys_api.router,
            audit_api.router,
            privacy_api.router,
            reports_api.router,
        ],
        indexes={
            **INDEXES,
            **AUDIT_INDEXES,
            **AuditTrail.indexes(),
            **ERASURE_INDEXES,
            **REPORT_INDEXES,
            **API_KEY_INDEXES,
        },
        topics=[topics.PEOPLE, topics.AUDIT, topics.PRIVACY, topics.GOALS, topics.FEEDBACK],
        wiring=wiring,
        error_renderers={scim_api.PREFIX: render_scim_error},
        error_formats={scim_api.PREFIX: SCIM_ERROR_FORMAT},
        description="HR integration: SCIM 2.0, HRIS imports, people, org chart and mentorships.",
    )
