"""RS256 bearer tokens verified through a JWKS URL (the production path), keys served over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from deploy.local.servers import free_port
from services.goals.config import GoalsSettings
from services.goals.main import create_app
from shared.auth import TokenVerifier
from shared.config import CommonSettings
from shared.errors import Unauthorized, Unavailable
from tests.support import eventually, isolated_settings, running

pytestmark = pytest.mark.integration

ISSUER = "https://idp.example.test/"
AUDIENCE = "northstar"


@dataclass
class IdentityProvider:
    """An identity provider's key set, served over real HTTP; keys come and go by ``kid``."""

    port: int
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    fetches: int = 0

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/.well-known/jwks.json"

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        public = []
        for kid, key in list(self.keys.items()):
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            public.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": public}

    def token(self, kid: str, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "sub": "pm-1",
            "tenant": "acme",
            "roles": ["employee"],
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 600,
            **claims,
        }
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.fetches += 1
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", provider.port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    provider.add_key("key-1")
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def verifier(idp: IdentityProvider, **overrides: Any) -> TokenVerifier:
    values: dict[str, Any] = {
        "environment": "production",
        "jwt_jwks_url": idp.jwks_url,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_jwks_refresh_cooldown_s": 0,
        **overrides,
    }
    return TokenVerifier(CommonSettings(**values))


async def test_a_token_signed_by_a_published_key_is_verified(idp: IdentityProvider) -> None:
    principal = await verifier(idp).verify(idp.token("key-1", roles=["hr_admin"]))
    assert (principal.tenant, principal.person_id) == ("acme", "pm-1")
    assert principal.roles == frozenset({"hr_admin"})


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example.test/"}, "issuer"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"exp": None}, "exp"),
    ],
)
async def test_wrong_audience_issuer_or_expiry_is_refused(
    idp: IdentityProvider, claims: dict[str, Any], reason: str
) -> None:
    token = idp.token("key-1", **claims)
    with pytest.raises(Unauthorized, match=f"(?i){reason}"):
        await verifier(idp).verify(token)


async def test_a_token_signed_by_an_unpublished_key_is_refused(idp: IdentityProvider) -> None:
    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized, match="Signature verification failed"):
        await verifier(idp).verify(idp.token("key-1", key=forged))
    with pytest.raises(Unauthorized, match="signing key"):
        await verifier(idp).verify(idp.token("key-9", key=forged))


async def test_an_hs256_token_is_refused_on_the_jwks_path(idp: IdentityProvider) -> None:
    token = jwt.encode(
        {"sub": "pm-1", "tenant": "acme", "exp": int(time.time()) + 60},
        "x" * 32,
        algorithm="HS256",
        headers={"kid": "key-1"},
    )
    with pytest.raises(Unauthorized):
        await verifier(idp).verify(token)


async def test_rotation_a_new_kid_is_fetched_and_a_removed_key_is_refused(
    idp: IdentityProvider,
) -> None:
    tokens = verifier(idp, jwt_jwks_lifespan_s=0.5)
    old_token = idp.token("key-1")
    await tokens.verify(old_token)
    fetched = idp.fetches

    # the identity provider publishes a new key: a token naming it re-fetches the set at once
    idp.add_key("key-2")
    new_token = idp.token("key-2")
    assert (await tokens.verify(new_token)).person_id == "pm-1"
    assert idp.fetches == fetched + 1
    await tokens.verify(old_token)  # both keys valid side by side during the rotation

    # the old key is withdrawn: refused once the cached set has expired
    del idp.keys["key-1"]

    async def old_key_refused() -> bool:
        try:
            await tokens.verify(old_token)
        except Unauthorized:
            return True
        return False

    await eventually(old_key_refused, timeout=10)
    assert (await tokens.verify(new_token)).person_id == "pm-1"


async def test_unknown_kids_refetch_at_most_once_per_cooldown(idp: IdentityProvider) -> None:
    tokens = verifier(idp, jwt_jwks_refresh_cooldown_s=300)
    await tokens.verify(idp.token("key-1"))
    fetched = idp.fetches
    for n in range(5):
        with pytest.raises(Unauthorized):
            await tokens.verify(idp.token(f"made-up-{n}", key=idp.keys["key-1"]))
    assert idp.fetches == fetched


async def test_an_unreachable_key_set_is_a_503_not_a_401() -> None:
    down = TokenVerifier(
        CommonSettings(environment="production", jwt_jwks_url=f"http://127.0.0.1:{free_port()}/")
    )
    with pytest.raises(Unavailable):
        await down.verify("e30.e30.e30")


async def test_a_service_in_production_mode_serves_rs256_callers(idp: IdentityProvider) -> None:
    settings = isolated_settings(
        GoalsSettings,
        environment="production",
        jwt_jwks_url=idp.jwks_url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        scheduler_enabled=False,
    )
    async with running(create_app(settings)) as client:

        async def get(token: str) -> httpx.Response:
            return await client.get("/v1/goals", headers={"Authorization": f"Bearer {token}"})

        assert (await get(idp.token("key-1"))).status_code == 200
        for bad in (
            idp.token("key-1", aud="other"),
            idp.token("key-1", iss="https://evil.example.test/"),
            idp.token("key-1", exp=int(time.time()) - 60),
        ):
            refused = await get(bad)
            assert refused.status_code == 401, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
