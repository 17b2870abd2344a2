"""The audit trail in the people service (HR's home), docs/audit.md.

Two parts: what the people service records itself (a person's manager change, deactivation
or removal, an import), and the read model every service's ``audit.recorded`` events land in:
``audit_records``, searched and exported by HR and admins, purged only by the tenant's
retention. Records are inserted once (their id is the event id) and never updated.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.people.domain import PersonFacts
from services.people.repository import PEOPLE
from shared.audit import Actor, audit_event
from shared.events.audit import AuditRecorded
from shared.events.envelope import Envelope, MalformedEvent
from shared.leases import acquire_lease
from shared.messaging.consumer import Router
from shared.messaging.outbox import with_outbox
from shared.mongo import Document
from shared.pagination import InvalidCursor, decode_cursor, encode_cursor

SERVICE = "people"
AUDIT_RECORDS = "audit_records"
AUDIT_SETTINGS = "audit_settings"
LEASES = "leases"
DEFAULT_RETENTION_DAYS = 365
# an import's record names at most this many people per list (its summary counts them all)
IMPORT_DETAIL_LIMIT = 1000
PURGE_BATCH = 500  # records deleted per purge round, so one round stays short

AUDIT_INDEXES: dict[str, list[IndexModel]] = {
    AUDIT_RECORDS: [
        IndexModel([("tenant", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)]),
        IndexModel([("tenant", ASCENDING), ("actor_id", ASCENDING), ("at", DESCENDING)]),
        IndexModel([("tenant", ASCENDING), ("object_type", ASCENDING), ("object_id", ASCENDING)]),
        IndexModel([("tenant", ASCENDING), ("action", ASCENDING), ("at", DESCENDING)]),
    ],
    AUDIT_SETTINGS: [IndexModel([("tenant", ASCENDING)], unique=True)],
}


# ---------------------------------------------------------------- what people records

# The SCIM token of the request being served: SCIM writes act as it. Set by the SCIM auth
# dependency (which runs in the request's context), so the SCIM resource code need not
# carry it through every call.
_SCIM_ACTOR: ContextVar[Actor | None] = ContextVar("scim_actor", default=None)


def acting_scim_token(token_id: str) -> None:
    _SCIM_ACTOR.set(Actor.scim_token(token_id))


def scim_actor() -> Actor:
    """The SCIM token acting now (the system outside a SCIM request)."""
    return _SCIM_ACTOR.get() or Actor("system", "scim")


def person_audit_events(
    tenant: str,
    actor: Actor,
    person_id: str,
    before: PersonFacts,
    after: PersonFacts,
    *,
    deleted: bool = False,
) -> list[Envelope]:
    """One record per audited action a change of a person is: a manager change, and a
    deactivation (or, for SCIM DELETE, a removal). Other field changes are not audited."""
    events: list[Envelope] = []
    if before.manager_id != after.manager_id:
        events.append(
            audit_event(
                tenant=tenant,
                actor=actor,
                action="person.manager_changed",
                object_type="person",
                object_id=person_id,
                service=SERVICE,
                before={"manager_id": before.manager_id},
                after={"manager_id": after.manager_id},
            )
        )
    if deleted or (before.active and not after.active):
        events.append(
            audit_event(
                tenant=tenant,
                actor=actor,
                action="person.deleted" if deleted else "person.deactivated",
                object_type="person",
                object_id=person_id,
                service=SERVICE,
                before={"active": before.active},
                after={"active": False},
            )
        )
    return events


def import_details(diff: Mapping[str, Any]) -> dict[str, Any]:
    """What an import's record keeps of its diff: the counts, and who was deactivated or got
    another manager (bounded; ``truncated`` says when a list was cut)."""
    deactivated = [p["id"] for p in diff.get("deactivated", [])]
    moves = [
        {
            "id": m["id"],
            "old_manager_id": m["old_manager_id"],
            "new_manager_id": m["new_manager_id"],
        }
        for m in diff.get("manager_changes", [])
    ]
    return {
        "summary": dict(diff.get("summary", {})),
        "created_ids": [p["id"] for p in diff.get("created", [])][:IMPORT_DETAIL_LIMIT],
        "deactivated_ids": deactivated[:IMPORT_DETAIL_LIMIT],
        "manager_changes": moves[:IMPORT_DETAIL_LIMIT],
        "truncated": max(len(deactivated), len(moves), len(diff.get("created", [])))
        > IMPORT_DETAIL_LIMIT,
    }


# ---------------------------------------------------------------- the read model


@dataclass(frozen=True)
class AuditQuery:
    """A search of one tenant's trail (None: any), newest first."""

    actor_id: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    action: str | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive

    def filter(self, tenant: str) -> Document:
        query: Document = {"tenant": tenant}
        for name in ("actor_id", "object_type", "object_id", "action"):
            value = getattr(self, name)
            if value is not None:
                query[name] = value
        window: Document = {}
        if self.start is not None:
            window["$gte"] = self.start
        if self.end is not None:
            window["$lt"] = self.end
        if window:
            query["at"] = window
        return query


def record_document(payload: AuditRecorded) -> Document:
    """The stored record: the event's fields, its id as ``_id`` (a replay is a duplicate)."""
    doc = payload.model_dump(mode="python")
    doc["_id"] = doc.pop("id")
    # before/after/details are free-form: kept as JSON text, as their keys may hold dots
    for name in ("before", "after", "details"):
        doc[name] = orjson.dumps(doc[name]).decode()
    return doc


def record_view(doc: Document) -> dict[str, Any]:
    """A stored record as the API shows it."""
    at = doc["at"]
    return {
        "id": doc["_id"],
        "tenant": doc["tenant"],
        "service": doc["service"],
        "action": doc["action"],
        "actor": {"type": doc["actor_type"], "id": doc["actor_id"], "roles": doc["actor_roles"]},
        "object": {"type": doc["object_type"], "id": doc["object_id"]},
        "at": at if at.tzinfo else at.replace(tzinfo=UTC),
        "before": orjson.loads(doc["before"]),
        "after": orjson.loads(doc["after"]),
        "details": orjson.loads(doc["details"]),
        "request_id": doc.get("request_id"),
        "trace_id": doc.get("trace_id"),
    }


def page_cursor(doc: Document) -> str:
    at = doc["at"] if doc["at"].tzinfo else doc["at"].replace(tzinfo=UTC)
    return encode_cursor({"at": int(at.timestamp() * 1000), "id": doc["_id"]})


def after_cursor(cursor: str | None) -> Document | None:
    """The condition "older than the last record of the previous page" (newest first)."""
    position = decode_cursor(cursor)
    if position is None:
        return None
    at, record_id = position.get("at"), position.get("id")
    if type(at) is not int or not isinstance(record_id, str):
        raise InvalidCursor("the cursor is not one this API returned")
    try:
        when = datetime.fromtimestamp(at / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:  # a time no record can have
        raise InvalidCursor("the cursor is not one this API returned") from exc
    return {"$or": [{"at": {"$lt": when}}, {"at": when, "_id": {"$lt": record_id}}]}


CSV_COLUMNS = (
    "at",
    "action",
    "actor_type",
    "actor_id",
    "actor_roles",
    "object_type",
    "object_id",
    "service",
    "before",
    "after",
    "details",
    "request_id",
    "trace_id",
    "id",
)


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_row(doc: Document) -> str:
    view = record_view(doc)
    values = [
        view["at"].isoformat().replace("+00:00", "Z"),
        view["action"],
        view["actor"]["type"],
        view["actor"]["id"],
        " ".join(view["actor"]["roles"]),
        view["object"]["type"],
        view["object"]["id"],
        view["service"],
        doc["before"],
        doc["after"],
        doc["details"],
        view["request_id"],
        view["trace_id"],
        view["id"],
    ]
    out = io.StringIO()
    csv.writer(out).writerow([_cell(v) for v in values])
    return out.getvalue()


def csv_header() -> str:
    out = io.StringIO()
    csv.writer(out).writerow(CSV_COLUMNS)
    return out.getvalue()


class AuditRecords:
    """The read model: records inserted once from events, searched, purged by retention."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.records: AsyncCollection[Document] = db[AUDIT_RECORDS]
        self.settings: AsyncCollection[Document] = db[AUDIT_SETTINGS]
        self.leases: AsyncCollection[Document] = db[LEASES]
        self.people: AsyncCollection[Document] = db[PEOPLE]
        self.outboxes = (self.settings,)  # a retention change carries its own audit record

    async def add(self, payload: AuditRecorded) -> bool:
        """Store a record; False when it is already stored (a redelivered event). A record that
        names an erased person (made by the erasure itself, or late) is stored redacted."""
        doc = record_document(payload)
        erased = await self._erased_among(payload.tenant, _strings(doc))
        if erased:
            doc = {
                "_id": doc["_id"],
                **_redacted({k: v for k, v in doc.items() if k != "_id"}, erased),
            }
        try:
            await self.records.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def redact(self, tenant: str, person_id: str) -> int:
        """Replace an erased person's id in every record of the tenant (GDPR erasure); the
        records stay, saying what was done, not to whom. Idempotent; returns how many changed."""
        changed = 0
        async for doc in self.records.find({"tenant": tenant}):
            body = {k: v for k, v in doc.items() if k != "_id"}
            redacted = _redacted(body, {person_id})
            if redacted != body:
                await self.records.replace_one({"_id": doc["_id"]}, redacted)
                changed += 1
        return changed

    async def _erased_among(self, tenant: str, values: set[str]) -> set[str]:
        candidates = [v for v in values if 0 < len(v) <= 200]
        if not candidates:
            return set()
        cursor = self.people.find(
            {"_id": {"$in": candidates}, "tenant": tenant, "erased": True}, {"_id": 1}
        )
        return {doc["_id"] async for doc in cursor}

    async def search(
        self, tenant: str, query: AuditQuery, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        filter_ = query.filter(tenant)
        after = after_cursor(cursor)
        if after is not None:
            filter_ = {"$and": [filter_, after]}
        found = self.records.find(filter_).sort([("at", DESCENDING), ("_id", DESCENDING)])
        docs = [doc async for doc in found.limit(limit + 1)]
        more = len(docs) > limit
        docs = docs[:limit]
        return [record_view(d) for d in docs], page_cursor(docs[-1]) if more and docs else None

    async def export(self, tenant: str, query: AuditQuery, max_rows: int) -> AsyncIterator[str]:
        """The CSV lines of a search (header first), read as they are sent."""
        yield csv_header()
        found = self.records.find(query.filter(tenant)).sort(
            [("at", DESCENDING), ("_id", DESCENDING)]
        )
        async for doc in found.limit(max_rows):
            yield csv_row(doc)

    # ------------------------------------------------------------ retention

    async def retention_days(self, tenant: str) -> int:
        doc = await self.settings.find_one({"_id": tenant})
        return int(doc["retention_days"]) if doc else DEFAULT_RETENTION_DAYS

    async def set_retention_days(self, tenant: str, days: int, actor: Actor) -> None:
        """Change the retention; the change is itself audited (in the settings' outbox)."""
        before = await self.retention_days(tenant)
        record = audit_event(
            tenant=tenant,
            actor=actor,
            action="audit_settings.changed",
            object_type="audit_settings",
            object_id=tenant,
            service=SERVICE,
            before={"retention_days": before},
            after={"retention_days": days},
        )
        await self.settings.update_one(
            {"_id": tenant},
            with_outbox({"$set": {"tenant": tenant, "retention_days": days}}, [record]),
            upsert=True,
        )

    async def purge(self, now: datetime, *, batch: int = PURGE_BATCH) -> int:
        """Delete, in every tenant, up to ``batch`` records older than its retention."""
        purged = 0
        for tenant in await self.records.distinct("tenant"):
            cutoff = now - timedelta(days=await self.retention_days(tenant))
            old = self.records.find({"tenant": tenant, "at": {"$lt": cutoff}}, {"_id": 1})
            ids = [doc["_id"] async for doc in old.limit(batch - purged)]
            if ids:
                result = await self.records.delete_many({"tenant": tenant, "_id": {"$in": ids}})
                purged += result.deleted_count
            if purged >= batch:
                break
        return purged


class AuditRetention:
    """The retention purge, run by one replica at a time (a lease)."""

    LEASE = "people-audit-retention"

    def __init__(self, records: AuditRecords, holder: str, *, lease_ttl_s: float) -> None:
        self._records = records
        self._holder = holder
        self._ttl = lease_ttl_s

    async def round(self, now: datetime | None = None) -> int | None:
        """Purge one batch if this replica holds the lease (None when another does)."""
        now = now or datetime.now(UTC)
        if not await acquire_lease(self._records.leases, self.LEASE, self._holder, now, self._ttl):
            return None
        return await self._records.purge(now)


def audit_router(records: AuditRecords) -> Router:
    """The read model's subscription: every service's ``audit.recorded`` events."""
    router = Router()

    @router.on(AuditRecorded)
    async def on_recorded(event: Envelope, payload: AuditRecorded) -> None:
        # the record's tenant is the event's (a payload naming another tenant is not trusted)
        if payload.tenant != event.tenant:
            raise MalformedEvent("an audit record's tenant differs from its event's")
        await records.add(payload)

    return router


ERASED = "erased"


def _strings(value: Any) -> set[str]:
    """Every string in a record (ids of people may stand in any field of before/after)."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {s for v in value.values() for s in _strings(v)}
    if isinstance(value, list | tuple):
        return {s for v in value for s in _strings(v)}
    return set()


def _redacted(value: Any, ids: set[str]) -> Any:
    """``value`` with every occurrence of the ids in its strings replaced by ``erased``."""
    if isinstance(value, str):
        for person_id in ids:
            value = value.replace(person_id, ERASED)
        return value
    if isinstance(value, dict):
        return {k: _redacted(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, ids) for v in value]
    return value
