"""API keys in shared/auth.py with fakes: the scope rule, the per-router resource, the
introspection cache, and how an unreachable people service is reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from services.goals import access
from services.people.api_keys import ApiKeys
from shared.audit import Actor
from shared.auth import (
    AdminOrKeyPrincipal,
    ApiKeyIntrospector,
    CurrentPrincipal,
    HttpIntrospector,
    KeyInfo,
    Principal,
    TokenVerifier,
    api_key_resource,
    check_api_key_scope,
    issue_local_token,
    required_scope,
)
from shared.config import CommonSettings
from shared.errors import Forbidden, NotFound, RuleNotMet, Unauthorized, Unavailable
from shared.problems import install_problem_handlers

KEY = "nsk_0123456789ab_" + "s" * 43


def key_principal(*scopes: str) -> Principal:
    return Principal(
        "acme", "0123456789ab", frozenset({"integration"}), kind="api_key", scopes=frozenset(scopes)
    )


class FakeIntrospector(ApiKeyIntrospector):
    """Answers from a dict, counting look-ups; time is the test's."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.now = 1000.0
        super().__init__(ttl_s, clock=lambda: self.now, wall=lambda: self.now)
        self.keys: dict[str, KeyInfo] = {}
        self.lookups = 0

    async def lookup(self, key: str) -> KeyInfo | None:
        self.lookups += 1
        return self.keys.get(key)


@pytest.mark.parametrize(
    ("method", "scope"),
    [
        ("GET", "kpi:read"),
        ("HEAD", "kpi:read"),
        ("get", "kpi:read"),
        ("POST", "kpi:write"),
        ("PUT", "kpi:write"),
        ("PATCH", "kpi:write"),
        ("DELETE", "kpi:write"),
    ],
)
def test_reads_need_read_and_everything_else_write(method: str, scope: str) -> None:
    assert required_scope("kpi", method) == scope


def test_a_key_passes_only_with_the_scope_of_the_routes_resource() -> None:
    check_api_key_scope(key_principal("kpi:read"), "kpi", "GET")
    check_api_key_scope(key_principal("kpi:write"), "kpi", "DELETE")
    for principal, resource, method in [
        (key_principal("kpi:read"), "kpi", "POST"),  # read is not write
        (key_principal("kpi:write"), "kpi", "GET"),  # nor write read
        (key_principal("goals:read"), "kpi", "GET"),  # another resource
        (key_principal("kpi:read", "kpi:write"), None, "GET"),  # a route without keys
    ]:
        with pytest.raises(Forbidden):
            check_api_key_scope(principal, resource, method)
    # people are not concerned by scopes
    check_api_key_scope(Principal("acme", "p1", frozenset({"employee"})), None, "POST")


def test_a_keys_actor_is_the_key() -> None:
    assert Actor.of(key_principal("kpi:write")) == Actor(
        "api_key", "0123456789ab", ("integration",)
    )
    assert Actor.of(Principal("acme", "p1", frozenset({"admin"}))).type == "person"


async def test_answers_are_cached_for_the_ttl_live_or_not() -> None:
    keys = FakeIntrospector(ttl_s=30)
    keys.keys[KEY] = KeyInfo("acme", "0123456789ab", frozenset({"kpi:read"}), 1_000_000.0)
    principal = await keys.principal(KEY)
    assert (principal.tenant, principal.person_id, principal.kind) == (
        "acme",
        "0123456789ab",
        "api_key",
    )
    assert principal.roles == {"integration"}
    assert principal.scopes == {"kpi:read"}
    await keys.principal(KEY)
    assert keys.lookups == 1
    del keys.keys[KEY]  # revoked: still answered from the cache within the TTL...
    keys.now += 29
    await keys.principal(KEY)
    keys.now += 2  # ... and refused after it
    with pytest.raises(Unauthorized):
        await keys.principal(KEY)
    assert keys.lookups == 2
    with pytest.raises(Unauthorized):  # a dead answer is cached too
        await keys.principal(KEY)
    assert keys.lookups == 2


async def test_an_expiring_key_is_not_served_from_the_cache_past_its_expiry() -> None:
    keys = FakeIntrospector(ttl_s=30)
    keys.keys[KEY] = KeyInfo("acme", "0123456789ab", frozenset({"kpi:read"}), keys.now + 5)
    await keys.principal(KEY)
    keys.now += 6
    with pytest.raises(Unauthorized):
        await keys.principal(KEY)


async def test_a_malformed_key_is_refused_without_a_lookup() -> None:
    keys = FakeIntrospector()
    for key in ("nsk_", "nsk_xyz_abc", "nsk_0123456789ab_short", KEY + "!"):
        with pytest.raises(Unauthorized):
            await keys.principal(key)
    assert keys.lookups == 0


def _http_keys(handler: Any) -> HttpIntrospector:
    return HttpIntrospector(CommonSettings(), transport=httpx.MockTransport(handler))


async def test_the_people_service_unreachable_or_failing_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler in (
        refuse,
        lambda request: httpx.Response(500),
        lambda request: httpx.Response(401),
        lambda request: httpx.Response(200, text="not json"),
    ):
        with pytest.raises(Unavailable):
            await _http_keys(handler).principal(KEY)


async def test_introspection_over_http_sends_the_shared_secret() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"active": True, "tenant": "acme", "key_id": "0123456789ab"}
        return httpx.Response(200, json={**body, "scopes": ["kpi:read"], "exp": 4_000_000_000})

    principal = await _http_keys(answer).principal(KEY)
    assert principal.scopes == {"kpi:read"}
    (request,) = seen
    assert request.url.path == "/v1/api-keys/introspect"
    assert request.headers["authorization"] == f"Bearer {CommonSettings().api_keys_shared_secret()}"
    inactive = _http_keys(lambda request: httpx.Response(200, json={"active": False}))
    with pytest.raises(Unauthorized):
        await inactive.principal(KEY)


def _app(keys: FakeIntrospector) -> TestClient:
    settings = CommonSettings()
    app = FastAPI()
    install_problem_handlers(app, {})
    app.state.verifier = TokenVerifier(settings, api_keys=keys)
    kpi = APIRouter(dependencies=[api_key_resource("kpi")])
    other = APIRouter()

    @kpi.get("/kpi")
    async def read(principal: CurrentPrincipal) -> dict[str, str]:
        return {"who": principal.person_id}

    @kpi.post("/kpi")
    async def write(principal: AdminOrKeyPrincipal) -> dict[str, str]:
        return {"who": principal.person_id}

    @other.get("/other")
    async def elsewhere(principal: CurrentPrincipal) -> dict[str, str]:
        return {"who": principal.person_id}

    app.include_router(kpi)
    app.include_router(other)
    return TestClient(app)


def test_routes_refuse_keys_unless_their_router_declares_the_scope() -> None:
    keys = FakeIntrospector()
    keys.keys[KEY] = KeyInfo("acme", "0123456789ab", frozenset({"kpi:read"}), 4e9)
    client = _app(keys)
    auth = {"Authorization": f"Bearer {KEY}"}
    assert client.get("/kpi", headers=auth).json() == {"who": "0123456789ab"}
    assert client.post("/kpi", headers=auth).status_code == 403
    assert client.get("/other", headers=auth).status_code == 403
    # a route without keys refuses any key before looking it up (the one look-up was /kpi)
    assert keys.lookups == 1
    keys.keys[KEY] = KeyInfo("acme", "0123456789ab", frozenset({"kpi:write"}), 4e9)
    keys.now += 31
    assert client.post("/kpi", headers=auth).status_code == 200
    # a JWT's integration role is not a key: admin routes stay the admins'
    token = issue_local_token(CommonSettings(), tenant="acme", sub="bot", roles=["integration"])
    person = {"Authorization": f"Bearer {token}"}
    assert client.post("/kpi", headers=person).status_code == 403
    assert client.get("/other", headers=person).status_code == 200


def test_a_goals_key_reads_every_goal_and_writes_none() -> None:
    reader = access.Relationship(reader=True)
    assert all(access.can_read(reader, v) for v in ("private", "team", "company"))
    assert not access.can_write(reader)
    assert not access.can_assign(reader)
    assert not access.can_review(reader)


class FakeKeyStore:
    """The key repository in memory (what ``ApiKeys`` asks of it)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.events: list[Any] = []

    async def insert(self, key_digest: str, fields: dict[str, Any], events: Any) -> None:
        self.docs[key_digest] = dict(fields)
        self.events.extend(events)

    async def by_digest(self, key_digest: str) -> dict[str, Any] | None:
        return self.docs.get(key_digest)

    async def exists(self, tenant: str, key_id: str) -> bool:
        return any(d["tenant"] == tenant and d["key_id"] == key_id for d in self.docs.values())

    async def revoke(self, tenant: str, key_id: str, now: datetime, events: Any) -> bool:
        for doc in self.docs.values():
            if (doc["tenant"], doc["key_id"], doc["revoked_at"]) == (tenant, key_id, None):
                doc["revoked_at"] = now
                self.events.extend(events)
                return True
        return False

    async def touch(self, key_digest: str, now: datetime, older_than: datetime) -> None:
        doc = self.docs[key_digest]
        if doc["last_used_at"] is None or doc["last_used_at"] < older_than:
            doc["last_used_at"] = now


async def test_issue_revoke_and_introspect_with_a_fake_store() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    clock = [now]
    store = FakeKeyStore()
    keys = ApiKeys(
        store,  # type: ignore[arg-type]
        default_ttl=timedelta(days=90),
        max_ttl=timedelta(days=365),
        touch_interval=timedelta(minutes=1),
        clock=lambda: clock[0],
    )
    admin = Actor("person", "adm", ("admin",))
    for expires_at in (now, now + timedelta(days=366)):
        with pytest.raises(RuleNotMet):
            await keys.issue(
                "acme", name="x", scopes=["kpi:read"], expires_at=expires_at, actor=admin
            )
    issued = await keys.issue(
        "acme",
        name="ci",
        scopes=["kpi:write", "kpi:read", "kpi:read"],
        expires_at=None,
        actor=admin,
    )
    assert issued.key.startswith(f"nsk_{issued.key_id}_")
    assert issued.scopes == ["kpi:read", "kpi:write"]
    assert issued.expires_at == now + timedelta(days=90)
    (stored,) = store.docs.items()
    assert issued.key not in str(stored)  # only the digest is kept

    info = await keys.introspect(issued.key)
    assert info is not None
    assert (info.tenant, info.scopes) == ("acme", {"kpi:read", "kpi:write"})
    first_use = stored[1]["last_used_at"]
    assert first_use == now
    clock[0] = now + timedelta(seconds=30)  # coalesced: not written again within a minute
    await keys.introspect(issued.key)
    assert stored[1]["last_used_at"] == first_use
    clock[0] = now + timedelta(seconds=61)
    await keys.introspect(issued.key)
    assert stored[1]["last_used_at"] == clock[0]

    with pytest.raises(NotFound):  # another tenant's key is unknown there
        await keys.revoke("globex", issued.key_id, admin)
    await keys.revoke("acme", issued.key_id, admin)
    await keys.revoke("acme", issued.key_id, admin)  # idempotent: no second record
    actions = [e.data["action"] for e in store.events]
    assert actions == ["api_key.issued", "api_key.revoked"]
    assert await keys.introspect(issued.key) is None
    with pytest.raises(NotFound):
        await keys.revoke("acme", "ffffffffffff", admin)

    brief = await keys.issue(
        "acme", name="b", scopes=["kpi:read"], expires_at=clock[0] + timedelta(hours=1), actor=admin
    )
    clock[0] += timedelta(hours=1)
    assert await keys.introspect(brief.key) is None  # expired
