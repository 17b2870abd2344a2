"""Settings hygiene and JWT verification."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import ValidationError

from shared.auth import TokenVerifier, issue_local_token
from shared.config import LOCAL_JWT_SECRET, CommonSettings
from shared.errors import Unauthorized


def test_local_secret_is_refused_outside_local_mode() -> None:
    with pytest.raises(ValidationError, match="local development secret"):
        CommonSettings(environment="production")


def test_short_secrets_are_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        CommonSettings(environment="production", jwt_secret="short")


def test_production_accepts_a_real_secret_or_a_jwks_url() -> None:
    assert CommonSettings(environment="production", jwt_secret="x" * 40).environment == (
        "production"
    )
    assert CommonSettings(environment="production", jwt_jwks_url="https://idp.example/jwks")


def test_env_names_are_shared_and_service_prefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.goals.config import GoalsSettings

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:9092")
    monkeypatch.setenv("GOALS_MONGODB_DATABASE", "goals_db")
    monkeypatch.setenv("NORTHSTAR_TOPIC_PREFIX", "staging.")
    settings = GoalsSettings()
    assert settings.kafka_bootstrap_servers == "broker:9092"
    assert settings.mongodb_database == "goals_db"
    assert settings.topic("northstar.goals.v1") == "staging.northstar.goals.v1"


async def test_local_token_round_trips_to_a_principal() -> None:
    settings = CommonSettings()
    token = issue_local_token(settings, tenant="acme", sub="p1", roles=["hr_admin"])
    principal = await TokenVerifier(settings).verify(token)
    assert principal.tenant == "acme"
    assert principal.person_id == "p1"
    assert principal.is_hr
    assert not principal.is_admin


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "p1", "tenant": "acme", "exp": int(time.time()) - 10},  # expired
        {"sub": "p1", "exp": int(time.time()) + 60},  # no tenant
        {"tenant": "acme", "exp": int(time.time()) + 60},  # no sub
        {"sub": "p1", "tenant": "", "exp": int(time.time()) + 60},  # empty tenant
    ],
)
async def test_bad_tokens_are_unauthorized(claims: dict[str, object]) -> None:
    token = jwt.encode(claims, LOCAL_JWT_SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        await TokenVerifier(CommonSettings()).verify(token)


async def test_token_signed_with_another_secret_is_unauthorized() -> None:
    claims = {"sub": "p1", "tenant": "acme", "exp": int(time.time()) + 60}
    token = jwt.encode(claims, "another-secret-entirely-another-secret", algorithm="HS256")
    with pytest.raises(Unauthorized, match="Signature verification failed"):
        await TokenVerifier(CommonSettings()).verify(token)


async def test_alg_none_is_unauthorized() -> None:
    claims = {"sub": "p1", "tenant": "acme", "exp": int(time.time()) + 60}
    token = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(Unauthorized):
        await TokenVerifier(CommonSettings()).verify(token)
