"""Per-source credentials for senders that cannot sign: a bearer token or HTTP basic auth.

An OpenTelemetry collector's ``otlphttp`` exporter, Amplitude's and Mixpanel's webhooks can send
a fixed ``Authorization`` header but cannot compute a Standard Webhooks signature. Such a source
gets a random token, shown once and stored as its SHA-256 digest (256 random bits need no salt
or stretching); ``bearer`` sources take ``Authorization: Bearer <token>``, ``basic`` sources
``Authorization: Basic`` with the token as the password (any user name, e.g. the source id).
Rotation keeps the previous digest valid for the grace period, like a signing secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import Literal

from shared.errors import Unauthorized

SourceAuth = Literal["signature", "bearer", "basic"]
TOKEN_PREFIX = "nsk_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def presented_token(auth: SourceAuth, headers: Mapping[str, str]) -> str:
    """The token an ``Authorization`` header carries in this source's scheme; 401 otherwise."""
    scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
    credentials = credentials.strip()
    if auth == "bearer" and scheme.lower() == "bearer" and credentials:
        return credentials
    if auth == "basic" and scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, ValueError):
            raise Unauthorized("the basic credentials are not base64 of user:password") from None
        _, colon, password = decoded.partition(":")
        if colon and password:
            return password
        raise Unauthorized("the basic credentials need a password (the source's token)")
    example = "Bearer <token>" if auth == "bearer" else "Basic <base64 of user:token>"
    raise Unauthorized(f"this source takes an Authorization: {example} header")


def check_token(auth: SourceAuth, headers: Mapping[str, str], digests: Sequence[str]) -> None:
    """Accept the request when it presents a token whose digest the source holds."""
    offered = digest(presented_token(auth, headers))
    if not any(hmac.compare_digest(offered, known) for known in digests):
        raise Unauthorized("the token is not valid for this source")
