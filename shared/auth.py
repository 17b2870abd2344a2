"""Bearer auth: the people's JWT (HS256 with a shared secret locally, RS256 through JWKS in
production) and integrations' API keys (``nsk_...``, verified by the people service).

An API key acts as itself: a :class:`Principal` of kind ``api_key`` with the ``integration`` role
and the key's scopes. Scopes are ``<resource>:<read|write>``; a router that accepts keys declares
its resource with :func:`api_key_resource` and a key may call it only with the matching scope
(read for GET and HEAD, write otherwise). Every other route refuses keys with 403, before any
role or object check: one rule, in :func:`current_principal`, for every service.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.config import CommonSettings
from shared.errors import Forbidden, Unauthorized, Unavailable

ROLES = frozenset({"employee", "hr_admin", "admin", "integration"})

# The scopes an API key can be given (what some service accepts; anything else is refused at
# issue). ``<resource>:read`` allows GET and HEAD on the resource's routes, ``:write`` the rest.
API_KEY_SCOPES = ("audit:read", "goals:read", "kpi:read", "kpi:write", "people:read")
API_KEY_PREFIX = "nsk_"
# nsk_<12 hex: the key id>_<the secret, base64url>
API_KEY_PATTERN = re.compile(r"^nsk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
READ_METHODS = frozenset({"GET", "HEAD"})
INTROSPECTION_PATH = "/v1/api-keys/introspect"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person of one tenant with some roles, or an API key (``kind``
    ``api_key``: ``person_id`` is the key id, the role ``integration``, and its ``scopes``)."""

    tenant: str
    person_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    kind: str = "person"
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_api_key(self) -> bool:
        return self.kind == "api_key"

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

    def __init__(
        self,
        settings: CommonSettings,
        *,
        api_keys: ApiKeyIntrospector | None = None,
    ) -> None:
        self._settings = settings
        # API keys: introspected at the people service (which replaces this with its own
        # store's answer, see services/people/main.py)
        self.api_keys: ApiKeyIntrospector = api_keys or HttpIntrospector(settings)
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

    async def aclose(self) -> None:
        await self.api_keys.aclose()

    async def verify(self, token: str) -> Principal:
        if token.startswith(API_KEY_PREFIX):
            return await self.api_keys.principal(token)
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


@dataclass(frozen=True)
class KeyInfo:
    """What introspection says of a live key."""

    tenant: str
    key_id: str
    scopes: frozenset[str]
    expires_at: float  # Unix time

    def principal(self) -> Principal:
        return Principal(
            tenant=self.tenant,
            person_id=self.key_id,
            roles=frozenset({"integration"}),
            kind="api_key",
            scopes=self.scopes,
        )


class ApiKeyIntrospector:
    """Turns an ``nsk_`` key into a Principal, with a short cache of answers (live and dead).

    A revoked key keeps working for at most ``api_keys_cache_ttl_s`` on a service that saw it
    within that time; an expired one never (a live entry ends at the key's expiry).
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl_s: float, clock: Any = time.monotonic, wall: Any = time.time) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._wall = wall
        self._cache: OrderedDict[str, tuple[float, KeyInfo | None]] = OrderedDict()

    async def lookup(self, key: str) -> KeyInfo | None:
        """The key's tenant, id, scopes and expiry, or None when it is not live."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what looking keys up holds (an HTTP client)."""

    async def principal(self, key: str) -> Principal:
        if API_KEY_PATTERN.fullmatch(key) is None:
            raise Unauthorized("invalid API key")
        cache_key = hashlib.sha256(key.encode()).hexdigest()
        now = self._clock()
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] > now:
            info = cached[1]
        else:
            info = await self.lookup(key)
            until = now + self._ttl_s
            if info is not None:
                until = min(until, now + max(0.0, info.expires_at - self._wall()))
            self._cache[cache_key] = (until, info)
            self._cache.move_to_end(cache_key)
            while len(self._cache) > self.MAX_ENTRIES:
                self._cache.popitem(last=False)
        if info is None or info.expires_at <= self._wall():
            raise Unauthorized("the API key is unknown, revoked or expired")
        return info.principal()


class HttpIntrospector(ApiKeyIntrospector):
    """Asks the people service (``POST /v1/api-keys/introspect``, authenticated with the
    shared ``api_keys_secret``). Not reachable, or not answering: 503, never 500."""

    def __init__(
        self, settings: CommonSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(settings.api_keys_cache_ttl_s)
        self._settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def lookup(self, key: str) -> KeyInfo | None:
        secret = self._settings.api_keys_shared_secret()
        if secret is None or not self._settings.api_keys_url:
            raise Unavailable("API keys cannot be verified: the service has no api_keys_secret")
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport, timeout=self._settings.api_keys_timeout_s
            )
        try:
            answer = await self._client.post(
                self._settings.api_keys_url.rstrip("/") + INTROSPECTION_PATH,
                json={"token": key},
                headers={"Authorization": f"Bearer {secret}"},
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"the API key cannot be verified: {exc!r}") from exc
        if answer.status_code != 200:
            raise Unavailable(
                f"the API key cannot be verified: people answered {answer.status_code}"
            )
        try:
            return key_info(answer.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise Unavailable("the API key cannot be verified: an unexpected answer") from exc

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def key_info(body: dict[str, Any]) -> KeyInfo | None:
    """An introspection answer as a KeyInfo (None: not active)."""
    if body.get("active") is not True:
        return None
    return KeyInfo(
        tenant=str(body["tenant"]),
        key_id=str(body["key_id"]),
        scopes=frozenset(map(str, body["scopes"])),
        expires_at=float(body["exp"]),
    )


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


class ApiKeyResource:
    """Declares the resource of a router's routes for API keys (see :func:`api_key_resource`);
    as a dependency it does nothing: :func:`current_principal` reads it off the route."""

    def __init__(self, resource: str) -> None:
        self.resource = resource

    async def __call__(self) -> None:
        return None


def api_key_resource(resource: str) -> DependsParam:
    """``APIRouter(dependencies=[api_key_resource("kpi")])``: API keys holding ``kpi:read``
    may call its GET routes, ``kpi:write`` the others (then its role checks still apply).

    Declare it on the APIRouter (or a route) itself: the check reads the matched route's own
    dependencies, so one given to ``include_router`` is not seen and keys stay refused."""
    return DependsParam(ApiKeyResource(resource))


def route_resource(route: object) -> str | None:
    """The API key resource a route declares (the last one wins), if any."""
    found = None
    for dependency in getattr(route, "dependencies", None) or ():
        if isinstance(dependency.dependency, ApiKeyResource):
            found = dependency.dependency.resource
    return found


def required_scope(resource: str, method: str) -> str:
    return f"{resource}:{'read' if method.upper() in READ_METHODS else 'write'}"


def check_api_key_scope(principal: Principal, resource: str | None, method: str) -> None:
    """Let an API key through only where its scopes allow; any other principal passes."""
    if not principal.is_api_key:
        return
    if resource is None:
        raise Forbidden("this route does not accept API keys")
    needed = required_scope(resource, method)
    if needed not in principal.scopes:
        raise Forbidden(f"the API key lacks the scope {needed}")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    resource = route_resource(request.scope.get("route"))
    if credentials.credentials.startswith(API_KEY_PREFIX) and resource is None:
        # refused before any look-up: whether the key is live is none of this route's business
        raise Forbidden("this route does not accept API keys")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(credentials.credentials)
    check_api_key_scope(principal, resource, request.method)
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


def require_roles_or_api_key(*roles: str) -> object:
    """Like :func:`require_roles`, and an API key passes too (its scope is checked already,
    by :func:`current_principal`; a JWT's ``integration`` role does not count here)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.is_api_key and not principal.has_role(*roles):
            raise Forbidden(f"this action needs one of the roles: {', '.join(sorted(roles))}")
        return principal

    return Depends(check)


AdminPrincipal = Annotated[Principal, require_roles("admin")]
HRPrincipal = Annotated[Principal, require_roles("hr_admin", "admin")]
# admins, or an API key holding the route's scope
AdminOrKeyPrincipal = Annotated[Principal, require_roles_or_api_key("admin")]
HROrKeyPrincipal = Annotated[Principal, require_roles_or_api_key("hr_admin", "admin")]
