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
from shared.errors import NotFound

PREFIX = "nss_"


def digest(token: str) -> str:
    # tokens are 256 random bits, so a plain SHA-256 (no salt, no stretching) is enough
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    tenant: str
    token: str
    created_at: datetime
    name: str | None


class ScimTokens:
    def __init__(
        self, repo: PeopleRepository, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._repo = repo
        self._clock = clock

    async def issue(self, tenant: str, *, created_by: str, name: str | None = None) -> IssuedToken:
        token_id = secrets.token_hex(6)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        now = self._clock()
        await self._repo.insert_token(
            digest(token),
            tenant=tenant,
            token_id=token_id,
            name=name,
            created_by=created_by,
            created_at=now,
        )
        return IssuedToken(token_id, tenant, token, now, name)

    async def tenant_of(self, token: str) -> str:
        """The tenant of a live token; anything else is 401."""
        found = await self._repo.token_by_hash(digest(token))
        if found is None:
            raise ScimError("the SCIM token is unknown or revoked", status=401)
        return str(found["tenant"])

    async def revoke(self, tenant: str, token_id: str) -> None:
        if not await self._repo.revoke_token(tenant, token_id, self._clock()):
            raise NotFound(f"no active SCIM token {token_id}")

    async def list(self, tenant: str) -> list[dict[str, Any]]:
        return await self._repo.list_tokens(tenant)
