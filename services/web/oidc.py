"""OpenID Connect sign-in: authorization code with PKCE (Authlib), the IdP user matched to a person.

The IdP needs no custom claims: its ``email`` (or ``preferred_username``) is looked up in the
people service's directory; HR admins are the members of the configured SCIM group (the IdP's
``groups`` claim carries the same groups it pushes over SCIM) or listed in the settings.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import jwt
from authlib.integrations.httpx_client import AsyncOAuth2Client

from services.web.client import Api, ApiProblem
from services.web.config import WebSettings
from services.web.sessions import Identity, SessionStore

CALLBACK_PATH = "/auth/callback"


class SignInFailed(Exception):
    """The IdP's answer cannot sign anyone in (shown on the sign-in page)."""


class OidcSignIn:
    def __init__(self, settings: WebSettings, store: SessionStore, api: Api) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_tenant):
            raise ValueError("WEB_OIDC_ISSUER, WEB_OIDC_CLIENT_ID and WEB_OIDC_TENANT are needed")
        self._settings = settings
        self._store = store
        self._api = api
        self._metadata: dict[str, Any] | None = None
        self.redirect_uri = settings.public_url.rstrip("/") + CALLBACK_PATH

    def _client(self) -> AsyncOAuth2Client:
        secret = self._settings.oidc_client_secret
        return AsyncOAuth2Client(
            client_id=self._settings.oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            scope=self._settings.oidc_scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=self._settings.api_timeout_s,
        )

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            issuer = str(self._settings.oidc_issuer).rstrip("/")
            async with httpx.AsyncClient(timeout=self._settings.api_timeout_s) as http:
                response = await http.get(f"{issuer}/.well-known/openid-configuration")
                response.raise_for_status()
                self._metadata = dict(response.json())
        return self._metadata

    async def begin(self, next_url: str) -> tuple[str, str]:
        """The IdP's authorization URL and the state (also kept in a cookie by the caller)."""
        meta = await self.metadata()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
        await self._store.begin_sign_in(
            state, {"nonce": nonce, "code_verifier": verifier, "next": next_url}
        )
        return url, state

    async def finish(self, state: str, code: str) -> tuple[Identity, str]:
        """The signed-in person and the page they asked for."""
        pending = await self._store.finish_sign_in(state)
        if pending is None:
            raise SignInFailed("this sign-in has expired or was already used; start again")
        meta = await self.metadata()
        async with self._client() as client:
            try:
                token = await client.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=pending["code_verifier"]
                )
            except Exception as exc:  # Authlib raises OAuthError and httpx errors alike
                raise SignInFailed(f"the identity provider refused the sign-in: {exc}") from exc
            claims = await self._id_claims(str(token.get("id_token", "")), pending["nonce"])
        identity = await self._match(claims)
        return identity, str(pending["next"])

    async def _id_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        meta = await self.metadata()
        async with httpx.AsyncClient(timeout=self._settings.api_timeout_s) as http:
            keys = (await http.get(meta["jwks_uri"])).json()
        try:
            header = jwt.get_unverified_header(id_token)
            jwk_set = jwt.PyJWKSet.from_dict(keys)
            key = next((k for k in jwk_set.keys if header.get("kid") in (None, k.key_id)), None)
            if key is None:
                raise SignInFailed("the ID token is signed with an unknown key")
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=[header.get("alg", "RS256")],
                audience=self._settings.oidc_client_id,
                issuer=meta["issuer"],
            )
        except jwt.PyJWTError as exc:
            raise SignInFailed(f"the ID token is not valid: {exc}") from exc
        if claims.get("nonce") != nonce:
            raise SignInFailed("the ID token answers another sign-in (nonce)")
        return claims

    async def _match(self, claims: dict[str, Any]) -> Identity:
        login = str(claims.get("email") or claims.get("preferred_username") or "").lower()
        if not login:
            raise SignInFailed("the identity provider gave no e-mail address")
        tenant = str(self._settings.oidc_tenant)
        try:
            found = await self._api.as_service(
                "people", "/v1/people", tenant=tenant, params={"q": login, "limit": 20}
            )
        except ApiProblem as exc:
            raise SignInFailed(f"the people directory does not answer: {exc.detail}") from exc
        for person in found.get("items", []):
            known = {
                str(person.get("user_name", "")).lower(),
                str(person.get("email") or "").lower(),
            }
            known |= {str(e).lower() for e in person.get("emails") or []}
            if login in known and person.get("active", True):
                roles = ["employee"]
                groups = claims.get("groups") or []
                if self._settings.hr_admin_group in groups or login in {
                    e.lower() for e in self._settings.hr_admin_emails
                }:
                    roles.append("hr_admin")
                return Identity(
                    tenant=tenant,
                    person_id=str(person["id"]),
                    roles=roles,
                    name=str(person.get("display_name") or login),
                )
        raise SignInFailed(f"{login} has no active Northstar account; ask your HR admin")
