"""JWT bearer auth: HS256 with a shared secret locally, RS256 through JWKS in production."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.config import CommonSettings
from shared.errors import Forbidden, Unauthorized, Unavailable

ROLES = frozenset({"employee", "hr_admin", "admin", "integration"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person of one tenant with some roles."""

    tenant: str
    person_id: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_hr(self) -> bool:
        """HR admins and admins manage people data of their tenant."""
        return self.has_role("hr_admin", "admin")


class TokenVerifier:
    """Verifies bearer tokens and turns their claims into a Principal."""

    def __init__(self, settings: CommonSettings) -> None:
        self._settings = settings
        # The key set is cached for ``jwt_jwks_lifespan_s``; a token naming an unknown ``kid``
        # re-fetches it (at most once per ``jwt_jwks_refresh_cooldown_s``, so made-up kids
        # cannot hammer the identity provider). No per-key cache (PyJWKClient's ``cache_keys``
        # never expires): a key removed from the set is refused once the cached set expires.
        self._jwks = (
            jwt.PyJWKClient(
                settings.jwt_jwks_url,
                lifespan=settings.jwt_jwks_lifespan_s,
                cooldown_duration=settings.jwt_jwks_refresh_cooldown_s,
                timeout=5,
            )
            if settings.jwt_jwks_url
            else None
        )

    async def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP (cached); keep it off the event loop
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: object = signing_key.key
                algorithms = ["RS256", "ES256"]
            else:
                key = self._settings.jwt_secret.get_secret_value()
                algorithms = ["HS256"]
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=algorithms,
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={
                    "require": ["sub", "tenant", "exp"],
                    "verify_aud": self._settings.jwt_audience is not None,
                },
            )
        except jwt.PyJWKClientConnectionError as exc:
            # the identity provider's key set is out of reach: not the caller's fault
            raise Unavailable(f"the token signing keys cannot be fetched: {exc}") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid bearer token: {exc}") from exc
        roles = claims.get("roles") or ["employee"]
        if isinstance(roles, str):
            roles = [roles]
        tenant, sub = claims["tenant"], claims["sub"]
        if not isinstance(tenant, str) or not tenant or not isinstance(sub, str) or not sub:
            raise Unauthorized("invalid bearer token: tenant and sub must be non-empty strings")
        return Principal(tenant=tenant, person_id=sub, roles=frozenset(map(str, roles)))


def issue_local_token(
    settings: CommonSettings, *, tenant: str, sub: str, roles: list[str], ttl_s: int = 12 * 3600
) -> str:
    """A JWT signed with the local HS256 secret (for `northstar token`, tests and the demo)."""
    now = int(time.time())
    claims = {"sub": sub, "tenant": tenant, "roles": roles, "iat": now, "exp": now + ttl_s}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(credentials.credentials)
    import structlog

    structlog.contextvars.bind_contextvars(tenant=principal.tenant)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> object:
    """A dependency that lets only principals holding one of ``roles`` through."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(*roles):
            raise Forbidden(f"this action needs one of the roles: {', '.join(sorted(roles))}")
        return principal

    return Depends(check)


AdminPrincipal = Annotated[Principal, require_roles("admin")]
HRPrincipal = Annotated[Principal, require_roles("hr_admin", "admin")]
