"""The API keys API: admins issue, list and revoke their tenant's keys (JWT); the other services
introspect a key (the shared ``api_keys_secret``), RFC 7662 style."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.people.api_keys import ApiKeys
from shared.audit import Actor
from shared.auth import API_KEY_SCOPES, AdminPrincipal, ApiKeyIntrospector, KeyInfo
from shared.config import CommonSettings
from shared.errors import Unauthorized
from shared.pagination import CURSOR_DESCRIPTION, Page

router = APIRouter(prefix="/v1", tags=["api-keys"])

Scope = Literal["audit:read", "goals:read", "kpi:read", "kpi:write", "people:read"]
assert set(Scope.__args__) == set(API_KEY_SCOPES)  # type: ignore[attr-defined]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*\S[^\x00]*$")
    scopes: list[Scope] = Field(min_length=1, max_length=len(API_KEY_SCOPES))
    expires_at: AwareDatetime | None = Field(
        None,
        description="When the key stops working: in the future, at most "
        "`PEOPLE_API_KEY_MAX_TTL_DAYS` ahead (else 422 rule-not-met); "
        "`PEOPLE_API_KEY_DEFAULT_TTL_DAYS` ahead when absent.",
    )


class ApiKeyPublic(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    created_by: str
    expires_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="shown once; only its SHA-256 digest is stored")


class Introspection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(max_length=200)


class IntrospectionAnswer(BaseModel):
    active: bool
    tenant: str | None = None
    key_id: str | None = None
    scopes: list[str] | None = None
    exp: int | None = Field(None, description="the key's expiry, Unix time")
    expires_at: datetime | None = None


def _keys(request: Request) -> ApiKeys:
    keys: ApiKeys = request.app.state.api_keys
    return keys


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
async def create_api_key(
    request: Request, principal: AdminPrincipal, body: ApiKeyCreate
) -> ApiKeyCreated:
    """Issue an API key for the caller's tenant; the key is shown only here."""
    issued = await _keys(request).issue(
        principal.tenant,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        actor=Actor.of(principal),
    )
    return ApiKeyCreated(
        key_id=issued.key_id,
        key=issued.key,
        name=issued.name,
        scopes=issued.scopes,
        created_at=issued.created_at,
        created_by=principal.person_id,
        expires_at=issued.expires_at,
    )


@router.get("/api-keys", response_model=Page[ApiKeyPublic])
async def list_api_keys(
    request: Request,
    principal: AdminPrincipal,
    cursor: Annotated[str | None, Query(description=CURSOR_DESCRIPTION)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ApiKeyPublic]:
    """The tenant's API keys, oldest first (never the keys themselves)."""
    found, next_cursor = await _keys(request).page(principal.tenant, cursor, limit)
    return Page[ApiKeyPublic](
        items=[ApiKeyPublic.model_validate(k) for k in found], next_cursor=next_cursor
    )


@router.delete("/api-keys/{key_id}", status_code=204)
async def revoke_api_key(request: Request, principal: AdminPrincipal, key_id: str) -> Response:
    """Revoke a key: refused everywhere once the services' caches expire
    (``NORTHSTAR_API_KEYS_CACHE_TTL_S``). Revoking it again changes nothing."""
    await _keys(request).revoke(principal.tenant, key_id, Actor.of(principal))
    return Response(status_code=204)


_service_secret = HTTPBearer(auto_error=False, scheme_name="ServiceSecret")


async def _service(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_service_secret)],
) -> None:
    settings: CommonSettings = request.app.state.settings
    secret = settings.api_keys_shared_secret()
    given = credentials.credentials if credentials else ""
    if secret is None or not hmac.compare_digest(given.encode(), secret.encode()):
        raise Unauthorized("introspection needs the services' shared secret")


@router.post(
    "/api-keys/introspect",
    response_model=IntrospectionAnswer,
    dependencies=[Depends(_service)],
)
async def introspect_api_key(request: Request, body: Introspection) -> IntrospectionAnswer:
    """For the services (bearer: ``NORTHSTAR_API_KEYS_SECRET``): is this key live, and whose?
    An unknown, revoked or expired key is ``{"active": false}``. Records the key's last use."""
    info = await _keys(request).introspect(body.token)
    if info is None:
        return IntrospectionAnswer(active=False)
    return IntrospectionAnswer(
        active=True,
        tenant=info.tenant,
        key_id=info.key_id,
        scopes=sorted(info.scopes),
        exp=int(info.expires_at),
        expires_at=datetime.fromtimestamp(info.expires_at, UTC),
    )


class LocalIntrospector(ApiKeyIntrospector):
    """The people service checks keys in its own store (same cache as the other services)."""

    def __init__(self, keys: ApiKeys, ttl_s: float) -> None:
        super().__init__(ttl_s)
        self._keys = keys

    async def lookup(self, key: str) -> KeyInfo | None:
        return await self._keys.introspect(key)
