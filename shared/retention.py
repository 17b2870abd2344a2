"""Retention: a tenant's setting (days) and the job that purges what is older than it.

A service names what ages out (:class:`Purge`: a collection, its time field, and what may go
at all, e.g. settled deliveries only); the setting lives in the service's own
``retention_settings`` (``GET/PUT /v1/retention``, admins). No setting: nothing is purged.

The job is bounded (at most ``batch`` documents a round, the next round goes on where work is
left) and lease-guarded (one replica at a time, shared/leases.py). Deleting by ids found first
keeps each round's deletes exact on FerretDB, which has no ``limit`` on ``delete_many``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth import AdminPrincipal
from shared.background import BackgroundLoop
from shared.leases import acquire_lease, release_lease
from shared.mongo import Document
from shared.observability import get_logger
from shared.schemas import Strict

log = get_logger(__name__)

SETTINGS = "retention_settings"
LEASES = "leases"
MAX_DAYS = 36_500


@dataclass(frozen=True)
class Purge:
    """Documents of ``collection`` whose ``time_field`` is older than the tenant's setting;
    ``only`` narrows what may be purged at all."""

    name: str
    collection: AsyncCollection[Document]
    time_field: str
    only: Mapping[str, Any] = field(default_factory=dict)


def age_index(time_field: str) -> IndexModel:
    """The index a purge walks: a tenant's documents by age."""
    return IndexModel([("tenant", ASCENDING), (time_field, ASCENDING)])


def with_indexes(
    indexes: Mapping[str, list[IndexModel]], more: Mapping[str, list[IndexModel]]
) -> dict[str, list[IndexModel]]:
    """A service's indexes and more, per collection."""
    merged = {name: list(models) for name, models in indexes.items()}
    for name, models in more.items():
        merged.setdefault(name, []).extend(models)
    return merged


def cutoff(now: datetime, days: int) -> datetime:
    """Documents older than this are past retention."""
    return now - timedelta(days=days)


class RetentionSettings:
    """Each tenant's retention in days (None: keep everything)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.collection = db[SETTINGS]

    async def of(self, tenant: str) -> int | None:
        doc = await self.collection.find_one({"_id": tenant})
        return doc.get("days") if doc else None

    async def set(self, tenant: str, days: int | None) -> None:
        await self.collection.update_one(
            {"_id": tenant}, {"$set": {"tenant": tenant, "days": days}}, upsert=True
        )

    async def all(self) -> list[tuple[str, int]]:
        cursor = self.collection.find({"days": {"$ne": None}}).sort("_id", 1)
        return [(doc["tenant"], int(doc["days"])) async for doc in cursor]


class RetentionJob:
    """Purges, tenant by tenant, what is past its retention; one replica at a time."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        purges: list[Purge],
        *,
        service: str,
        clock: Callable[[], datetime],
        interval_s: float = 3600.0,
        lease_ttl_s: float = 600.0,
        batch: int = 1000,
        holder: str | None = None,
    ) -> None:
        self.settings = RetentionSettings(db)
        self.leases = db[LEASES]
        self.purges = purges
        self.lease = f"{service}-retention"
        self.clock = clock
        self.lease_ttl_s = lease_ttl_s
        self.batch = batch
        self.holder = holder or uuid.uuid4().hex
        self._loop = BackgroundLoop(self.lease, self._round, interval_s)

    async def tick(self) -> dict[str, int] | None:
        """One bounded round; how many documents of each kind went (None: not our lease)."""
        now = self.clock()
        if not await acquire_lease(self.leases, self.lease, self.holder, now, self.lease_ttl_s):
            return None
        left = self.batch
        purged = {purge.name: 0 for purge in self.purges}
        for tenant, days in await self.settings.all():
            before = cutoff(now, days)
            for purge in self.purges:
                if left <= 0:
                    break
                query = {**purge.only, "tenant": tenant, purge.time_field: {"$lt": before}}
                cursor = purge.collection.find(query, {"_id": 1}).limit(left)
                ids = [doc["_id"] async for doc in cursor]
                if ids:
                    result = await purge.collection.delete_many({"_id": {"$in": ids}})
                    purged[purge.name] += result.deleted_count
                    left -= len(ids)
        if any(purged.values()):
            log.info("retention purge", lease=self.lease, **purged)
        return purged

    async def _round(self) -> bool:
        purged = await self.tick()
        return purged is not None and sum(purged.values()) >= self.batch  # more is waiting

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop(timeout_s=10)
        with suppress(Exception):
            await release_lease(self.leases, self.lease, self.holder)


class RetentionUpdate(Strict):
    # None keeps everything
    days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None


class RetentionPublic(Strict):
    days: int | None
    applies_to: list[str]


def retention_router(applies_to: list[str]) -> APIRouter:
    """``GET/PUT /v1/retention``: the tenant's retention of ``applies_to`` (admins)."""
    router = APIRouter(prefix="/v1", tags=["retention"])

    def _settings(request: Request) -> RetentionSettings:
        settings: RetentionSettings = request.app.state.retention
        return settings

    @router.get("/retention", response_model=RetentionPublic)
    async def get_retention(request: Request, principal: AdminPrincipal) -> RetentionPublic:
        """How many days the tenant keeps these records (null: forever)."""
        days = await _settings(request).of(principal.tenant)
        return RetentionPublic(days=days, applies_to=applies_to)

    @router.put("/retention", response_model=RetentionPublic)
    async def put_retention(
        request: Request, principal: AdminPrincipal, body: RetentionUpdate
    ) -> RetentionPublic:
        """Set how many days the tenant keeps these records; older ones are purged."""
        await _settings(request).set(principal.tenant, body.days)
        return RetentionPublic(days=body.days, applies_to=applies_to)

    return router
