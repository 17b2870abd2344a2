"""Web's API tokens: RS256 with its own key (production) as the services verify them."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services.web import client
from services.web.client import TokenMinter
from services.web.config import WebSettings


def _pem(key: Any) -> str:
    return str(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    )


@pytest.fixture(scope="module")
def rsa_pem() -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _settings(pem: str | None, **overrides: Any) -> WebSettings:
    return WebSettings(api_signing_key=pem, api_signing_key_id="web-7", **overrides)


def test_rs256_tokens_verify_with_the_published_key(rsa_pem: str) -> None:
    minter = TokenMinter(_settings(rsa_pem, jwt_issuer="https://web.test", jwt_audience="apis"))
    token = minter.mint("acme", "p-1", ["employee"])
    assert jwt.get_unverified_header(token)["kid"] == "web-7"
    [public] = jwt.PyJWKSet.from_dict(minter.jwks()).keys
    claims = jwt.decode(
        token, public.key, algorithms=["RS256"], audience="apis", issuer="https://web.test"
    )
    assert (claims["tenant"], claims["sub"], claims["roles"]) == ("acme", "p-1", ["employee"])


def test_the_key_is_parsed_once_not_per_call(rsa_pem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # parsing a PEM RSA key checks its maths: 170 ms a call on a loaded machine, per API call
    loads: list[bytes] = []
    real = client.load_pem_private_key

    def counting(data: bytes, password: bytes | None) -> Any:
        loads.append(data)
        return real(data, password)

    monkeypatch.setattr(client, "load_pem_private_key", counting)
    minter = TokenMinter(_settings(rsa_pem))
    for person in ("p-1", "p-2", "p-3"):
        minter.mint("acme", person, ["employee"])
    minter.jwks()
    assert len(loads) == 1


def test_a_token_is_reused_for_the_same_person_while_half_its_life_is_left(
    rsa_pem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(client.time, "time", lambda: clock[0])
    signed: list[dict[str, Any]] = []
    encode = jwt.encode

    def counting(claims: dict[str, Any], *args: Any, **kwargs: Any) -> str:
        signed.append(claims)
        return encode(claims, *args, **kwargs)

    monkeypatch.setattr(client.jwt, "encode", counting)
    minter = TokenMinter(_settings(rsa_pem, api_token_ttl_s=300))
    first = minter.mint("acme", "p-1", ["employee"])
    assert minter.mint("acme", "p-1", ["employee"]) == first
    assert minter.mint("acme", "p-1", ["employee", "hr_admin"]) != first  # other roles
    assert minter.mint("other", "p-1", ["employee"]) != first  # another tenant
    clock[0] += 149
    assert minter.mint("acme", "p-1", ["employee"]) == first
    clock[0] += 2  # past half its life: a fresh one, valid its whole lifetime again
    fresh = minter.mint("acme", "p-1", ["employee"])
    assert fresh != first
    claims = jwt.decode(fresh, options={"verify_signature": False})
    assert claims["exp"] == int(clock[0]) + 300
    assert len(signed) == 4  # first, other roles, other tenant, fresh: one signature each


def test_a_signing_key_that_is_not_rsa_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="RSA private key"):
        TokenMinter(_settings(_pem(ec.generate_private_key(ec.SECP256R1()))))


def test_without_a_key_tokens_are_hs256_and_no_key_is_published() -> None:
    minter = TokenMinter(_settings(None))
    assert jwt.get_unverified_header(minter.mint("acme", "p-1", ["employee"]))["alg"] == "HS256"
    assert minter.jwks() == {"keys": []}
