"""Standard Webhooks: the secrets and signed headers every sender in the project uses.

kpi-ingest verifies signatures, notifications signs outbound deliveries, and the demo, the
benches, the fault suite and the tests sign KPI webhooks; they all go through here, so the
signature always covers the timestamp in the header.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime

from standardwebhooks import Webhook


def new_secret(size: int = 32) -> str:
    """A ``whsec_`` signing secret (base64 of ``size`` random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(size)).decode()


def signed_headers(
    secret: str, body: str | bytes, *, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` for one delivery."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    # standardwebhooks' sign() reads the time as UTC (it replaces the zone, not converts it):
    # a local-zone time on a non-UTC host would sign a timestamp other than the header's
    at = (at or datetime.now(UTC)).astimezone(UTC)
    payload = body.decode() if isinstance(body, bytes) else body
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, payload),
    }
