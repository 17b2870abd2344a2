"""Browser sessions and one-time login links: the only data web keeps.

A session is a random id in an httpOnly cookie pointing at a server-side document that names the
person (tenant, person id, roles) and holds the session's CSRF token. Login links and pending
OpenID Connect sign-ins are stored hashed and used once. Expired documents are pruned by a
periodic job (FerretDB has no TTL indexes).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo import IndexModel

from shared.mongo import Document

SESSIONS = "sessions"
LOGIN_LINKS = "login_links"
SIGN_INS = "sign_ins"


def indexes() -> dict[str, list[IndexModel]]:
    # sessions are looked up by their hashed id (the _id); expiry drives the prune job
    return {
        SESSIONS: [IndexModel([("expires_at", 1)], name="expiry")],
        LOGIN_LINKS: [IndexModel([("expires_at", 1)], name="expiry")],
        SIGN_INS: [IndexModel([("expires_at", 1)], name="expiry")],
    }


def digest(secret: str) -> str:
    """What is stored for a secret the browser holds: a stolen database opens no session."""
    return hashlib.sha256(secret.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who it is, until when, and the token its forms carry."""

    id: str
    tenant: str
    person_id: str
    roles: frozenset[str]
    csrf_token: str
    expires_at: datetime
    name: str = ""

    @property
    def is_hr(self) -> bool:
        return bool(self.roles & {"hr_admin", "admin"})


@dataclass(frozen=True)
class Identity:
    tenant: str
    person_id: str
    roles: list[str] = field(default_factory=lambda: ["employee"])
    name: str = ""


def login_link(identity: Identity, ttl: timedelta) -> tuple[str, Document]:
    """A new one-time token and the document that stores it (hashed) in ``login_links``."""
    token = secrets.token_urlsafe(32)
    document = {
        "_id": digest(token),
        "tenant": identity.tenant,
        "person_id": identity.person_id,
        "roles": list(identity.roles),
        "expires_at": now() + ttl,
    }
    return token, document


class Collection(Protocol):
    async def insert_one(self, document: Document) -> Any: ...
    async def find_one(self, filter: Document) -> Document | None: ...
    async def find_one_and_delete(self, filter: Document) -> Document | None: ...
    async def delete_one(self, filter: Document) -> Any: ...
    async def delete_many(self, filter: Document) -> Any: ...


class SessionStore:
    """Sessions, login links and pending sign-ins in web's own database."""

    def __init__(self, db: Any, *, ttl_s: int, link_ttl_s: int) -> None:
        self._sessions: Collection = db[SESSIONS]
        self._links: Collection = db[LOGIN_LINKS]
        self._sign_ins: Collection = db[SIGN_INS]
        self._ttl = timedelta(seconds=ttl_s)
        self._link_ttl = timedelta(seconds=link_ttl_s)

    # ---------------------------------------------------------------- sessions

    async def open(self, identity: Identity) -> Session:
        """A new session for ``identity``; the returned id goes into the cookie only."""
        session = Session(
            id=secrets.token_urlsafe(32),
            tenant=identity.tenant,
            person_id=identity.person_id,
            roles=frozenset(identity.roles),
            csrf_token=secrets.token_urlsafe(32),
            expires_at=now() + self._ttl,
            name=identity.name,
        )
        await self._sessions.insert_one(
            {
                "_id": digest(session.id),
                "tenant": session.tenant,
                "person_id": session.person_id,
                "roles": sorted(session.roles),
                "csrf_token": session.csrf_token,
                "expires_at": session.expires_at,
                "name": session.name,
            }
        )
        return session

    async def find(self, session_id: str) -> Session | None:
        """The live session behind a cookie value, or None (unknown or expired)."""
        doc = await self._sessions.find_one({"_id": digest(session_id)})
        if doc is None or _aware(doc["expires_at"]) <= now():
            return None
        return Session(
            id=session_id,
            tenant=doc["tenant"],
            person_id=doc["person_id"],
            roles=frozenset(doc["roles"]),
            csrf_token=doc["csrf_token"],
            expires_at=_aware(doc["expires_at"]),
            name=doc.get("name", ""),
        )

    async def close(self, session_id: str) -> None:
        await self._sessions.delete_one({"_id": digest(session_id)})

    async def prune(self) -> None:
        """Remove expired sessions, links and sign-ins."""
        expired = {"expires_at": {"$lte": now()}}
        for collection in (self._sessions, self._links, self._sign_ins):
            await collection.delete_many(expired)

    # ------------------------------------------------------------- login links

    async def issue_link(self, identity: Identity) -> str:
        """A one-time login token (local mode); only its digest is stored."""
        token, document = login_link(identity, self._link_ttl)
        await self._links.insert_one(document)
        return token

    async def redeem_link(self, token: str) -> Identity | None:
        """The identity of an unused, unexpired link; the link is spent either way."""
        doc = await self._links.find_one_and_delete({"_id": digest(token)})
        if doc is None or _aware(doc["expires_at"]) <= now():
            return None
        return Identity(tenant=doc["tenant"], person_id=doc["person_id"], roles=doc["roles"])

    # ------------------------------------------------- OpenID Connect sign-ins

    async def begin_sign_in(self, state: str, data: Document) -> None:
        await self._sign_ins.insert_one(
            {"_id": digest(state), **data, "expires_at": now() + self._link_ttl}
        )

    async def finish_sign_in(self, state: str) -> Document | None:
        doc = await self._sign_ins.find_one_and_delete({"_id": digest(state)})
        if doc is None or _aware(doc["expires_at"]) <= now():
            return None
        return doc


def _aware(moment: datetime) -> datetime:
    # the store may hand back naive UTC datetimes
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
