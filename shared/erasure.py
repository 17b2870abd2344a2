"""GDPR erasure and access, the part every service shares (docs/people.md#erasure-and-export).

A service describes what it holds about a person in one :class:`PersonalData` object (its
``privacy`` module): ``export`` gathers it, ``erase`` deletes or anonymises it. This module
wires both: ``register_erasure`` answers ``person.erased`` (the service's own data, then its
people projection, then ``person.erasure_completed``), ``data_router`` serves
``GET /v1/people/{id}/data`` for the people service's export.

Erasure is idempotent: every step deletes or rewrites what still names the person, so a
redelivery after a crash finds less to do and reports completion again (same event id).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.auth import CurrentPrincipal
from shared.directory import PeopleDirectory
from shared.errors import Forbidden, VersionConflict
from shared.events.envelope import Envelope, deterministic_id, new_event
from shared.events.people import PersonErased
from shared.events.privacy import PersonErasureCompleted
from shared.messaging.consumer import Router
from shared.messaging.outbox import HELD, PENDING, RELAY_AFTER, Publisher
from shared.mongo import Document
from shared.time import Clock

# Stands in for an erased person's id where a record someone else keeps must still name "a
# person" (a reviewer slot that counts towards an aggregate, a requester): never their id.
ERASED = "erased"
# An export lists at most this many documents per collection (a person's own data is far less)
EXPORT_LIMIT = 5_000

Change = Callable[[Document], Document | None]


class PersonalData(Protocol):
    """What one service holds about a person, and how it forgets them."""

    async def export(self, tenant: str, person_id: str) -> dict[str, list[Document]]: ...

    async def erase(self, tenant: str, person_id: str) -> None: ...


def completion(service: str, tenant: str, person_id: str) -> Envelope:
    """``service``'s report that it erased the person; the same id on every retry."""
    payload = PersonErasureCompleted(id=person_id, tenant=tenant, service=service)
    return new_event(
        payload,
        tenant=tenant,
        subject=person_id,
        source=f"northstar/{service}",
        id=deterministic_id(tenant, person_id, service, payload.event_type),
    )


class Erased(Protocol):
    """Who was erased, as a service that reads events about people asks (:class:`ErasedPeople`)."""

    async def among(self, tenant: str, person_ids: Iterable[str]) -> set[str]: ...

    async def of_tenant(self, tenant: str) -> set[str]: ...


class ErasedPeople:
    """The ids (nothing else) of the people a service has erased, for the events that arrive
    after the erasure and name them.

    ``person.erased`` and, say, a goal's milestone travel on different topics, so a service
    may read the milestone of an erased owner after it forgot them; a service that makes
    something of such an event for someone (an inbox item for the owner's manager) asks here
    first. An id is opaque: keeping it is keeping no personal data.
    """

    COLLECTION = "erased_people"

    def __init__(self, db: AsyncDatabase[Document], clock: Clock) -> None:
        self._erased = db[self.COLLECTION]
        self._clock = clock

    @classmethod
    def indexes(cls) -> dict[str, list[IndexModel]]:
        return {cls.COLLECTION: [IndexModel([("tenant", ASCENDING)])]}

    async def record(self, tenant: str, person_id: str) -> None:
        await self._erased.update_one(
            {"_id": f"{tenant}:{person_id}"},
            {"$setOnInsert": {"tenant": tenant, "person_id": person_id, "at": self._clock()}},
            upsert=True,
        )

    async def among(self, tenant: str, person_ids: Iterable[str]) -> set[str]:
        """Which of these people were erased."""
        keys = [f"{tenant}:{pid}" for pid in set(person_ids)]
        cursor = self._erased.find({"_id": {"$in": keys}}, {"person_id": 1})
        return {doc["person_id"] async for doc in cursor}

    async def of_tenant(self, tenant: str) -> set[str]:
        """Everyone the tenant's erasures named (a few: people leave, rarely ask to be erased)."""
        cursor = self._erased.find({"tenant": tenant}, {"person_id": 1})
        return {doc["person_id"] async for doc in cursor}


def register_erasure(
    router: Router,
    *,
    service: str,
    data: PersonalData,
    publisher: Publisher,
    directory: PeopleDirectory | None = None,
    erased: ErasedPeople | None = None,
) -> None:
    """Answer ``person.erased``: forget, then report. The report is published only after the
    effect is stored, and the offset committed only after the report is acknowledged."""

    @router.on(PersonErased)
    async def on_person_erased(event: Envelope, payload: PersonErased) -> None:
        """Erase what this service holds about the person, then say so."""
        if erased is not None:
            # first: an event naming them that lands while we erase is not made into anything
            await erased.record(payload.tenant, payload.id)
        # the projection last: ``erase`` may look the person up (their name in texts)
        await data.erase(payload.tenant, payload.id)
        if directory is not None:
            await directory.forget(payload.tenant, payload.id)
        await publisher.publish_many([completion(service, payload.tenant, payload.id)])


def data_router(service: str) -> APIRouter:
    """``GET /v1/people/{id}/data``: what the service holds (``app.state.personal_data``)."""
    router = APIRouter(prefix="/v1", tags=["privacy"])

    @router.get("/people/{person_id}/data")
    async def person_data(
        request: Request, principal: CurrentPrincipal, person_id: str
    ) -> dict[str, Any]:
        """What this service holds about a person (HR admins, admins or the person)."""
        if principal.person_id != person_id and not principal.is_hr:
            raise Forbidden("only the person or an HR admin may read their data")
        data: PersonalData = request.app.state.personal_data
        held = await data.export(principal.tenant, person_id)
        return {
            "service": service,
            "person_id": person_id,
            "collections": exported(held),
        }

    return router


def exported(held: Mapping[str, list[Document]]) -> Any:
    """The held documents as JSON. A binary value (a goal's packed applied-event guards) is
    shown as base64: FastAPI's encoder decodes bytes as UTF-8 and failed on any other."""
    return jsonable_encoder(held, custom_encoder={bytes: _base64})


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


# ---------------------------------------------------------------------- store helpers


async def documents(
    collection: AsyncCollection[Document], query: Mapping[str, Any]
) -> list[Document]:
    """The documents matching ``query`` as an export shows them (without their outbox)."""
    cursor = collection.find(dict(query), {PENDING: 0, HELD: 0, RELAY_AFTER: 0}).limit(EXPORT_LIMIT)
    return [doc async for doc in cursor]


async def rewrite(
    collection: AsyncCollection[Document], query: Mapping[str, Any], change: Change
) -> int:
    """Apply ``change`` (a document -> the fields to ``$set``, or None) to every match.

    FerretDB has no positional or ``arrayFilters`` updates, so arrays of sub-documents are
    rewritten whole; a versioned document is written only if its version did not move (a lost
    race raises VersionConflict, which the consumer retries: the rewrite is idempotent).
    """
    changed = 0
    async for doc in collection.find(dict(query)):
        fields = change(doc)
        if not fields:
            continue
        guard: Document = {"_id": doc["_id"]}
        update: Document = {"$set": fields}
        if "version" in doc:
            guard["version"] = doc["version"]
            update["$inc"] = {"version": 1}
        result = await collection.update_one(guard, update)
        if result.matched_count == 0 and "version" in doc:
            raise VersionConflict(f"{collection.name} {doc['_id']} changed during erasure")
        changed += 1
    return changed


def replaced(values: list[Any], person_id: str) -> list[Any]:
    """A list of ids with the person's replaced by :data:`ERASED` (counts stay right)."""
    return [ERASED if value == person_id else value for value in values]


def without(values: list[Any], person_id: str) -> list[Any]:
    return [value for value in values if value != person_id]


async def delete_all(
    collection: AsyncCollection[Document], tenant: str, *fields: str, person_id: str
) -> None:
    """Delete the tenant's documents where any of ``fields`` names the person."""
    await collection.delete_many({"tenant": tenant, "$or": [{f: person_id} for f in fields]})
