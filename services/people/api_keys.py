"""Per-tenant API keys for integrations: scoped, expiring, shown once, stored as a SHA-256
digest, revocable; introspected by the other services (docs/people.md#api-keys).

A key is ``nsk_<key id>_<secret>``. Its issue and its revocation each carry their audit record
in the key's document (its outbox), so the record exists exactly when the change does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.people.tokens import digest, revocation_record
from shared.audit import Actor, audit_event
from shared.auth import API_KEY_PATTERN, API_KEY_PREFIX, KeyInfo
from shared.errors import NotFound, RuleNotMet
from shared.events.envelope import Envelope
from shared.messaging.outbox import with_outbox
from shared.mongo import Document
from shared.pagination import InvalidCursor, decode_cursor, encode_cursor

API_KEYS = "api_keys"
INDEXES: dict[str, list[IndexModel]] = {
    API_KEYS: [
        IndexModel([("tenant", ASCENDING), ("key_id", ASCENDING)], unique=True),
        IndexModel([("tenant", ASCENDING), ("created_at", ASCENDING), ("key_id", ASCENDING)]),
    ]
}
# what a list shows of a key: never its digest (the document's _id) nor its outbox
PUBLIC_FIELDS = {
    "_id": 0,
    "key_id": 1,
    "name": 1,
    "scopes": 1,
    "created_at": 1,
    "created_by": 1,
    "expires_at": 1,
    "last_used_at": 1,
    "revoked_at": 1,
}


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    key: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime


class ApiKeyRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.keys: AsyncCollection[Document] = db[API_KEYS]
        self.outboxes = (self.keys,)

    async def insert(self, key_digest: str, fields: Document, events: Sequence[Envelope]) -> None:
        await self.keys.insert_one(
            {"_id": key_digest, **fields, "pending_events": [e.to_document() for e in events]}
        )

    async def by_digest(self, key_digest: str) -> Document | None:
        return await self.keys.find_one({"_id": key_digest}, {"pending_events": 0})

    async def exists(self, tenant: str, key_id: str) -> bool:
        found = await self.keys.find_one({"tenant": tenant, "key_id": key_id}, {"_id": 1})
        return found is not None

    async def revoke(
        self, tenant: str, key_id: str, now: datetime, events: Sequence[Envelope]
    ) -> bool:
        """True when this call revoked the key (a live one), so its record was stored."""
        result = await self.keys.update_one(
            {"tenant": tenant, "key_id": key_id, "revoked_at": None},
            with_outbox({"$set": {"revoked_at": now}}, list(events)),
        )
        return result.matched_count == 1

    async def touch(self, key_digest: str, now: datetime, older_than: datetime) -> None:
        """Record a use, unless one was recorded since ``older_than`` (coalesced writes)."""
        await self.keys.update_one(
            {
                "_id": key_digest,
                "$or": [{"last_used_at": None}, {"last_used_at": {"$lt": older_than}}],
            },
            {"$set": {"last_used_at": now}},
        )

    async def page(
        self, tenant: str, after: tuple[datetime, str] | None, limit: int
    ) -> list[Document]:
        query: Document = {"tenant": tenant}
        if after is not None:
            at, key_id = after
            query["$or"] = [
                {"created_at": {"$gt": at}},
                {"created_at": at, "key_id": {"$gt": key_id}},
            ]
        cursor = (
            self.keys.find(query, PUBLIC_FIELDS)
            .sort([("created_at", ASCENDING), ("key_id", ASCENDING)])
            .limit(limit)
        )
        return [doc async for doc in cursor]


class ApiKeys:
    def __init__(
        self,
        repo: ApiKeyRepository,
        *,
        default_ttl: timedelta,
        max_ttl: timedelta,
        touch_interval: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._repo = repo
        self._default_ttl = default_ttl
        self._max_ttl = max_ttl
        self._touch_interval = touch_interval
        self._clock = clock
        self._notify = notify

    async def issue(
        self,
        tenant: str,
        *,
        name: str,
        scopes: Sequence[str],
        expires_at: datetime | None,
        actor: Actor,
    ) -> IssuedKey:
        now = self._clock()
        if expires_at is None:
            expires_at = now + self._default_ttl
        elif expires_at <= now:
            raise RuleNotMet("expires_at must be in the future", field="expires_at")
        elif expires_at > now + self._max_ttl:
            raise RuleNotMet(
                f"expires_at is at most {self._max_ttl.days} days ahead", field="expires_at"
            )
        expires_at = expires_at.astimezone(UTC)
        wanted = sorted(set(scopes))
        key_id = secrets.token_hex(6)
        key = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = audit_event(
            tenant=tenant,
            actor=actor,
            action="api_key.issued",
            object_type="api_key",
            object_id=key_id,
            service="people",
            after={"name": name, "scopes": wanted, "expires_at": expires_at},
            at=now,
        )
        fields = {
            "tenant": tenant,
            "key_id": key_id,
            "name": name,
            "scopes": wanted,
            "created_at": now,
            "created_by": actor.id,
            "expires_at": expires_at,
            "last_used_at": None,
            "revoked_at": None,
        }
        await self._repo.insert(digest(key), fields, [record])
        self._notify()
        return IssuedKey(key_id, key, name, wanted, now, expires_at)

    async def revoke(self, tenant: str, key_id: str, actor: Actor) -> None:
        """Revoke a key; repeating it changes (and records) nothing; unknown: 404."""
        now = self._clock()
        record = revocation_record(tenant, actor, "api_key", key_id, now)
        if await self._repo.revoke(tenant, key_id, now, [record]):
            self._notify()
        elif not await self._repo.exists(tenant, key_id):
            raise NotFound(f"no API key {key_id}")

    async def page(
        self, tenant: str, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        position = decode_cursor(cursor)
        after = None
        if position is not None:
            try:
                after = (datetime.fromisoformat(position["at"]), str(position["id"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidCursor("the cursor is not one this API returned") from exc
        found = await self._repo.page(tenant, after, limit + 1)
        more, found = len(found) > limit, found[:limit]
        next_cursor = None
        if more and found:
            last = found[-1]
            at = last["created_at"]
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            next_cursor = encode_cursor({"at": at.isoformat(), "id": last["key_id"]})
        return found, next_cursor

    async def introspect(self, key: str) -> KeyInfo | None:
        """The live key's tenant, id, scopes and expiry (None: unknown, revoked or expired);
        records its use, at most once per ``touch_interval``."""
        if API_KEY_PATTERN.fullmatch(key) is None:
            return None
        key_digest = digest(key)
        found = await self._repo.by_digest(key_digest)
        if found is None or found.get("revoked_at") is not None:
            return None
        now = self._clock()
        expires_at: datetime = found["expires_at"]
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at <= now:
            return None
        await self._repo.touch(key_digest, now, now - self._touch_interval)
        return KeyInfo(
            tenant=str(found["tenant"]),
            key_id=str(found["key_id"]),
            scopes=frozenset(found["scopes"]),
            expires_at=expires_at.timestamp(),
        )
