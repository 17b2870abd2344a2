"""Admin use cases: webhook sources (secrets shown once, rotation) and metric definitions."""

from __future__ import annotations

import re
import secrets as random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from services.kpi_ingest.catalog import Catalog
from services.kpi_ingest.credentials import SourceAuth, digest, new_token
from services.kpi_ingest.domain import (
    BUILTIN_METRICS,
    MetricDefinition,
    MetricKind,
    Source,
    SourceFormat,
    SourceSecret,
)
from services.kpi_ingest.formats import FORMATS
from services.kpi_ingest.repository import KpiRepository
from shared.audit import Actor, AuditTrail, audit_event
from shared.errors import Conflict, InvalidInput, NotFound
from shared.webhooks import new_secret

SERVICE = "kpi_ingest"
METRIC_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


SECRET_BYTES = 24  # whsec_ + base64 of 24 random bytes


def _credential(auth: SourceAuth) -> tuple[str, str]:
    """What the admin is shown once, and what is stored: a signing secret is kept as is (an
    HMAC needs it), a token only as its digest."""
    if auth == "signature":
        secret = new_secret(SECRET_BYTES)
        return secret, secret
    token = new_token()
    return token, digest(token)


def _secret_dates(source: Source) -> list[dict[str, datetime | None]]:
    return [{"created_at": s.created_at, "expires_at": s.expires_at} for s in source.secrets]


class Admin:
    def __init__(
        self,
        repo: KpiRepository,
        catalog: Catalog,
        rotation_grace: timedelta,
        *,
        trail: AuditTrail,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._repo = repo
        self._trail = trail
        self._catalog = catalog
        self._grace = rotation_grace
        self._notify = notify

    # ---------------------------------------------------------------- sources

    async def create_source(
        self,
        tenant: str,
        name: str,
        format: SourceFormat,
        mapping: Mapping[str, Any],
        auth: SourceAuth = "signature",
        *,
        actor: Actor,
    ) -> tuple[Source, str]:
        """The new source and its secret or token, which only this answer shows; its audit
        record is stored in the source's document (never the secret)."""
        if format not in FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
        FORMATS[format].check_mapping(mapping)
        now = datetime.now(UTC)
        shown, kept = _credential(auth)
        source = Source(
            id="src_" + random.token_hex(12),
            tenant=tenant,
            name=name,
            format=format,
            mapping=dict(mapping),
            secrets=(SourceSecret(kept, now),),
            created_at=now,
            auth=auth,
        )
        record = audit_event(
            tenant=tenant,
            actor=actor,
            action="kpi_source.created",
            object_type="kpi_source",
            object_id=source.id,
            service=SERVICE,
            after={"name": name, "format": format, "auth": auth},
            at=now,
        )
        await self._repo.add_source(source, [record])
        self._catalog.forget_source(source.id)
        self._notify()
        return source, shown

    async def source(self, tenant: str, source_id: str) -> Source:
        source = await self._repo.source(source_id, tenant)
        if source is None:
            raise NotFound(f"no webhook source {source_id}")
        return source

    async def sources(self, tenant: str) -> list[Source]:
        return await self._repo.sources_of(tenant)

    async def rotate_secret(
        self, tenant: str, source_id: str, *, actor: Actor
    ) -> tuple[Source, str]:
        """A new secret (or token); the previous one keeps verifying for the grace period."""
        source = await self.source(tenant, source_id)
        shown, kept = _credential(source.auth)
        now = datetime.now(UTC)
        rotated = source.rotate(kept, now, self._grace)
        # the record says when each secret was made and expires, never the secret itself
        record = audit_event(
            tenant=tenant,
            actor=actor,
            action="kpi_source.secret_rotated",
            object_type="kpi_source",
            object_id=source_id,
            service=SERVICE,
            before={"secrets": _secret_dates(source)},
            after={"secrets": _secret_dates(rotated)},
            at=now,
        )
        await self._repo.save_secrets(rotated, [record])
        self._catalog.forget_source(source_id)
        self._notify()
        return rotated, shown

    async def delete_source(self, tenant: str, source_id: str, *, actor: Actor) -> None:
        """Remove a source. Its document goes, so the record is written first to the audit
        trail's own outbox, with the source's unrelayed records (its creation's, say)."""
        source = await self.source(tenant, source_id)
        await self._trail.record(
            audit_event(
                tenant=tenant,
                actor=actor,
                action="kpi_source.deleted",
                object_type="kpi_source",
                object_id=source_id,
                service=SERVICE,
                before={"name": source.name, "format": source.format, "auth": source.auth},
            ),
            carried=await self._repo.unpublished(tenant, source_id),
        )
        self._notify()
        if not await self._repo.delete_source(tenant, source_id):
            raise NotFound(f"no webhook source {source_id}")
        self._catalog.forget_source(source_id)

    # ---------------------------------------------------------------- metrics

    async def define_metric(
        self,
        tenant: str,
        *,
        key: str,
        name: str,
        unit: str,
        kind: MetricKind,
        thresholds: list[float],
        expected_every_s: int | None,
    ) -> MetricDefinition:
        """A tenant's metric; it may redefine a built-in KPI once (e.g. to add thresholds)."""
        if not METRIC_KEY.match(key):
            raise InvalidInput("key must be lower_snake_case, starting with a letter")
        metric = MetricDefinition(
            key=key,
            name=name,
            unit=unit,
            kind=kind,
            thresholds=tuple(sorted(set(thresholds))),
            expected_every_s=expected_every_s,
            created_at=datetime.now(UTC),
        )
        if not await self._repo.add_metric(tenant, metric):
            raise Conflict(f"metric {key} is already defined for this tenant")
        self._catalog.forget_metrics(tenant)
        return metric

    async def metrics(self, tenant: str) -> list[MetricDefinition]:
        return sorted(
            {**BUILTIN_METRICS, **await self._repo.metrics_of(tenant)}.values(),
            key=lambda m: m.key,
        )

    async def metric(self, tenant: str, key: str) -> MetricDefinition:
        found = (await self._catalog.metrics(tenant)).get(key)
        if found is None:
            raise NotFound(f"no metric {key}")
        return found
