"""Per-tenant SCIM bearer tokens: shown once, stored as a SHA-256 digest, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.people.repository import PeopleRepository
from services.people.scim.errors import ScimError
from shared.audit import Actor, audit_event
from shared.errors import NotFound
from shared.events.envelope import Envelope

PREFIX = "nss_"


def digest(token: str) -> str:
    # SCIM tokens and API keys carry 256 random bits: a plain SHA-256 (no salt, no stretching)
    # is enough
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    tenant: str
    token: str
    created_at: datetime
    name: str | None


def revocation_record(
    tenant: str, actor: Actor, object_type: str, object_id: str, now: datetime
) -> Envelope:
    """The audit record of revoking a credential (a SCIM token, an API key) of the people
    service: ``<type>.revoked``, ``revoked_at`` from none to now."""
    return audit_event(
        tenant=tenant,
        actor=actor,
        action=f"{object_type}.revoked",
        object_type=object_type,
        object_id=object_id,
        service="people",
        before={"revoked_at": None},
        after={"revoked_at": now},
        at=now,
    )


class ScimTokens:
    def __init__(
        self,
        repo: PeopleRepository,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._repo = repo
        self._clock = clock
        self._notify = notify

    async def issue(
        self, tenant: str, *, created_by: str, name: str | None = None, actor: Actor | None = None
    ) -> IssuedToken:
        """A new token; its audit record (``actor``: the caller, else the system) is stored
        in the token's document, with it."""
        token_id = secrets.token_hex(6)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        now = self._clock()
        record = audit_event(
            tenant=tenant,
            actor=actor or Actor("system", created_by),
            action="scim_token.issued",
            object_type="scim_token",
            object_id=token_id,
            service="people",
            after={"name": name, "created_by": created_by},
            at=now,
        )
        await self._repo.insert_token(
            digest(token),
            tenant=tenant,
            token_id=token_id,
            name=name,
            created_by=created_by,
            created_at=now,
            events=[record],
        )
        self._notify()
        return IssuedToken(token_id, tenant, token, now, name)

    async def caller(self, token: str) -> tuple[str, str]:
        """The tenant and token id of a live token; anything else is 401."""
        found = await self._repo.token_by_hash(digest(token))
        if found is None:
            raise ScimError("the SCIM token is unknown or revoked", status=401)
        return str(found["tenant"]), str(found["token_id"])

    async def tenant_of(self, token: str) -> str:
        """The tenant of a live token; anything else is 401."""
        found = await self._repo.token_by_hash(digest(token))
        if found is None:
            raise ScimError("the SCIM token is unknown or revoked", status=401)
        return str(found["tenant"])

    async def revoke(self, tenant: str, token_id: str, actor: Actor) -> None:
        now = self._clock()
        record = revocation_record(tenant, actor, "scim_token", token_id, now)
        # the update matches only a live token: a second revoke records nothing
        if not await self._repo.revoke_token(tenant, token_id, now, events=[record]):
            raise NotFound(f"no active SCIM token {token_id}")
        self._notify()

    async def list(self, tenant: str) -> list[dict[str, Any]]:
        return await self._repo.list_tokens(tenant)
