"""Calls to the other services' public APIs on behalf of the signed-in person.

Every call carries a short-lived bearer JWT minted for the session's person (tenant, sub, roles):
HS256 with the shared secret in local mode, RS256 with web's own key in production (the services
then trust web's JWKS, served at ``/.well-known/jwks.json``). A problem answer becomes an
:class:`ApiProblem` whose ``fields`` map form fields to messages, so a page can show each one next
to its input.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from services.web.config import WebSettings
from services.web.sessions import Session
from shared.auth import issue_local_token


class ApiProblem(Exception):
    """A 4xx problem answer of a service, or its outage (status 503)."""

    def __init__(self, status: int, detail: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.fields = fields or {}


def field_errors(problem: dict[str, Any]) -> dict[str, str]:
    """``errors[].loc`` of a validation problem as dotted field names (``key_results.0.target``).

    The leading ``body`` of FastAPI locations is dropped; a model-level error keeps its message
    under ``""`` so the page can show it above the form.
    """
    fields: dict[str, str] = {}
    for error in problem.get("errors") or []:
        if not isinstance(error, dict):
            continue
        loc = [str(part) for part in error.get("loc") or [] if part != "body"]
        # pydantic names the union branch it tried (e.g. `KpiSourceIn`): not a field
        loc = [part for part in loc if not part[:1].isupper() and part != "function-after[...]"]
        name = ".".join(loc)
        message = str(error.get("msg") or "is not valid")
        fields.setdefault(name, message.removeprefix("Value error, "))
    if not fields and problem.get("field"):
        fields[str(problem["field"])] = str(problem.get("detail") or "")
    return fields


class TokenMinter:
    """Short-lived JWTs for a session's person.

    The RSA key is parsed once: loading a PEM key checks the key's maths and costs tens of
    milliseconds (50-170 ms measured on a loaded machine, 1 ms to sign with the parsed key),
    which per API call would block the event loop for every page. A token is reused for the same
    person and roles while it has at least half its lifetime left, so a page's calls share one
    signature instead of one each.
    """

    MAX_CACHED = 10_000  # people with a token in hand; beyond it the cache starts again

    def __init__(self, settings: WebSettings) -> None:
        self._settings = settings
        key = settings.api_signing_key
        # an empty value (an optional Secret key left blank) means HS256, as unset does
        pem = (key.get_secret_value() if key else "") or None
        self._private_key: RSAPrivateKey | None = None
        if pem is not None:
            private = load_pem_private_key(pem.encode(), password=None)
            if not isinstance(private, RSAPrivateKey):
                raise ValueError("WEB_API_SIGNING_KEY must be an RSA private key (PEM)")
            self._private_key = private
        self._cache: dict[tuple[str, str, tuple[str, ...]], tuple[str, float]] = {}

    def mint(self, tenant: str, sub: str, roles: list[str]) -> str:
        key = (tenant, sub, tuple(roles))
        now = time.time()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        ttl = self._settings.api_token_ttl_s
        token = self._sign(tenant, sub, roles, int(now), ttl)
        if len(self._cache) >= self.MAX_CACHED:
            self._cache.clear()
        self._cache[key] = (token, now + ttl / 2)
        return token

    def _sign(self, tenant: str, sub: str, roles: list[str], now: int, ttl: int) -> str:
        if self._private_key is None:
            return issue_local_token(self._settings, tenant=tenant, sub=sub, roles=roles, ttl_s=ttl)
        claims: dict[str, Any] = {
            "sub": sub,
            "tenant": tenant,
            "roles": roles,
            "iat": now,
            "exp": now + ttl,
        }
        if self._settings.jwt_issuer:
            claims["iss"] = self._settings.jwt_issuer
        if self._settings.jwt_audience:
            claims["aud"] = self._settings.jwt_audience
        return jwt.encode(
            claims,
            self._private_key,
            algorithm="RS256",
            headers={"kid": self._settings.api_signing_key_id},
        )

    def jwks(self) -> dict[str, Any]:
        """The public half of the signing key (empty in local mode)."""
        if self._private_key is None:
            return {"keys": []}
        public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(
            self._private_key.public_key(), as_dict=True
        )
        public_jwk.update(kid=self._settings.api_signing_key_id, use="sig", alg="RS256")
        return {"keys": [public_jwk]}


class Api:
    """One client for every service; ``api.get("goals", "/v1/goals/x", session)``."""

    def __init__(
        self,
        settings: WebSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.minter = TokenMinter(settings)
        self._urls = {
            "people": settings.people_url,
            "goals": settings.goals_url,
            "feedback": settings.feedback_url,
            "kpi_ingest": settings.kpi_ingest_url,
            "notifications": settings.notifications_url,
            "reviews": settings.reviews_url,
        }
        self._http = httpx.AsyncClient(timeout=settings.api_timeout_s, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    def _headers(self, session: Session) -> dict[str, str]:
        token = self.minter.mint(session.tenant, session.person_id, sorted(session.roles))
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def url(self, service: str, path: str) -> str:
        return self._urls[service].rstrip("/") + path

    async def request(
        self,
        method: str,
        service: str,
        path: str,
        session: Session,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The JSON answer of a 2xx; an :class:`ApiProblem` otherwise."""
        try:
            response = await self._http.request(
                method,
                self.url(service, path),
                json=json,
                params={k: v for k, v in (params or {}).items() if v is not None},
                content=content,
                headers={**self._headers(session), **(headers or {})},
            )
        except httpx.HTTPError as exc:
            raise ApiProblem(503, f"the {service} service does not answer ({exc})") from exc
        if response.is_success:
            return response.json() if response.content else None
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        if not isinstance(problem, dict):
            problem = {}
        status = response.status_code if response.status_code < 500 else 503
        detail = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
        raise ApiProblem(status, detail, field_errors(problem))

    async def download(self, service: str, path: str, session: Session) -> httpx.Response:
        """A non-JSON GET (a CSV export) passed through as is; an :class:`ApiProblem` on error."""
        try:
            response = await self._http.get(self.url(service, path), headers=self._headers(session))
        except httpx.HTTPError as exc:
            raise ApiProblem(503, f"the {service} service does not answer ({exc})") from exc
        if not response.is_success:
            status = response.status_code if response.status_code < 500 else 503
            raise ApiProblem(status, response.reason_phrase)
        return response

    async def get(self, service: str, path: str, session: Session, **params: Any) -> Any:
        return await self.request("GET", service, path, session, params=params)

    async def post(self, service: str, path: str, session: Session, body: Any = None) -> Any:
        return await self.request("POST", service, path, session, json=body)

    async def put(self, service: str, path: str, session: Session, body: Any = None) -> Any:
        return await self.request("PUT", service, path, session, json=body)

    async def patch(self, service: str, path: str, session: Session, body: Any = None) -> Any:
        return await self.request("PATCH", service, path, session, json=body)

    async def delete(self, service: str, path: str, session: Session) -> Any:
        return await self.request("DELETE", service, path, session)

    async def as_service(
        self, service: str, path: str, *, tenant: str, params: dict[str, Any] | None = None
    ) -> Any:
        """A GET as web itself (role ``integration``), before anyone is signed in (OIDC match)."""
        token = self.minter.mint(tenant, "web", ["integration"])
        try:
            response = await self._http.get(
                self.url(service, path),
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise ApiProblem(503, f"the {service} service does not answer ({exc})") from exc
        if not response.is_success:
            raise ApiProblem(response.status_code, response.text[:200])
        return response.json()

    @asynccontextmanager
    async def stream(
        self, service: str, path: str, session: Session, *, last_event_id: str | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET (Server-Sent Events) with no read timeout, resumed after
        ``last_event_id`` when given."""
        timeout = httpx.Timeout(self.settings.api_timeout_s, read=None)
        headers = self._headers(session)
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        async with self._http.stream(
            "GET", self.url(service, path), headers=headers, timeout=timeout
        ) as response:
            yield response
