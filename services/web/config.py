"""Settings of the web app (env prefix ``WEB_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from shared.config import CommonSettings


class WebSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore", populate_by_name=True)

    service_name: str = "web"
    port: int = 8000
    mongodb_database: str = "northstar_web"

    # the public APIs web calls (never their databases)
    people_url: str = "http://127.0.0.1:8001"
    goals_url: str = "http://127.0.0.1:8002"
    feedback_url: str = "http://127.0.0.1:8003"
    kpi_ingest_url: str = "http://127.0.0.1:8004"
    notifications_url: str = "http://127.0.0.1:8005"
    reviews_url: str = "http://127.0.0.1:8006"
    api_timeout_s: float = 10.0
    # the bearer JWT web mints for each API call on behalf of the signed-in person
    api_token_ttl_s: int = 300
    # production: web signs RS256 with this PEM key and serves /.well-known/jwks.json, which
    # the services trust through NORTHSTAR_JWT_JWKS_URL (docs/web.md); unset: the HS256 secret
    api_signing_key: SecretStr | None = None
    api_signing_key_id: str = "web-1"

    # browser sessions
    session_ttl_s: int = 8 * 3600
    session_cookie: str = "northstar_session"
    cookie_secure: bool = False  # True behind HTTPS (production)
    session_prune_interval_s: float = 300.0
    login_link_ttl_s: int = 300
    # the public address of this app (login links, the OIDC redirect URI)
    public_url: str = "http://127.0.0.1:8000"

    # sign-in: "local" one-time links (local mode only) or OpenID Connect
    sign_in: Literal["local", "oidc"] = "local"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scope: str = "openid email profile"
    # the tenant people signing in through this IdP belong to
    oidc_tenant: str | None = None
    # HR admins: members of this SCIM group (the IdP's ``groups`` claim), or listed here
    hr_admin_group: str = "Northstar HR Admins"
    hr_admin_emails: list[str] = []

    # live parts: how often web asks the goals API whether an open goal moved
    live_poll_interval_s: float = 1.0
    live_keepalive_s: float = 15.0
