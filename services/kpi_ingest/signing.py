"""Webhook signatures: Standard Webhooks (every format) and Segment's ``X-Signature``.

The Standard Webhooks signature is computed with the package's own ``sign``; the timestamp
tolerance is checked here, against the moment the request *arrived* (not the moment it was
verified), so time a request spent waiting inside this process never turns a correctly signed
delivery into a 401. A correct signature whose timestamp is out of tolerance is reported as
:class:`StaleSignature`, which carries the verified webhook-id: the ingest answers a redelivery
of an already accepted id as accepted instead of refusing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

from shared.errors import Unauthorized

# Standard Webhooks' tolerance: 5 minutes either way
TOLERANCE_S = 300


class StaleSignature(Unauthorized):
    """Signed by a valid secret, but the timestamp is outside the tolerance (a replay, or a
    sender that resends an old request verbatim)."""

    def __init__(self, detail: str, webhook_id: str) -> None:
        super().__init__(detail)
        self.webhook_id = webhook_id


class SignatureCheck:
    """Verifies a request against every secret a source currently accepts (rotation)."""

    def __init__(self) -> None:
        self._hooks: dict[str, Webhook] = {}

    def _hook(self, secret: str) -> Webhook:
        hook = self._hooks.get(secret)
        if hook is None:
            if len(self._hooks) > 10_000:
                self._hooks.clear()
            hook = self._hooks[secret] = Webhook(secret)
        return hook

    def standard(
        self,
        body: bytes,
        headers: Mapping[str, str],
        secrets: Sequence[str],
        arrived: datetime | None = None,
    ) -> str:
        """The verified ``webhook-id``; raises Unauthorized (401) for anything else."""
        msg_id = headers.get("webhook-id")
        stamp = headers.get("webhook-timestamp")
        signatures = headers.get("webhook-signature")
        if not (msg_id and stamp and signatures):
            raise Unauthorized(
                "webhook-id, webhook-timestamp and webhook-signature headers are required"
            )
        try:
            signed_at = datetime.fromtimestamp(float(stamp), UTC)
            text = body.decode()
        except (ValueError, OverflowError, UnicodeDecodeError):
            raise Unauthorized(
                "the webhook signature does not verify: bad timestamp or body"
            ) from None
        offered = _v1_signatures(signatures)
        if not any(
            hmac.compare_digest(_v1(self._hook(secret).sign(msg_id, signed_at, text)), candidate)
            for secret in secrets
            for candidate in offered
        ):
            reason = "no matching signature" if secrets else "no secret of this source is valid"
            raise Unauthorized(f"the webhook signature does not verify: {reason}")
        skew = (signed_at - (arrived or datetime.now(UTC))).total_seconds()
        if skew < -TOLERANCE_S:
            raise StaleSignature("the webhook timestamp is too old (replay window 5 min)", msg_id)
        if skew > TOLERANCE_S:
            raise StaleSignature("the webhook timestamp is too new (clock skew > 5 min)", msg_id)
        return msg_id

    @staticmethod
    def segment(body: bytes, signature: str, secrets: Sequence[str]) -> None:
        """Segment's ``X-Signature``: hex HMAC-SHA1 of the body with the shared secret."""
        for secret in secrets:
            expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
            if hmac.compare_digest(expected, signature.strip().lower()):
                return
        raise Unauthorized("the X-Signature does not verify")


def _v1(signature: str) -> bytes:
    return base64.b64decode(signature.split(",", 1)[1])


def _v1_signatures(header: str) -> list[bytes]:
    """The ``v1,<base64>`` entries of a space-separated signature header (others ignored)."""
    found = []
    for entry in header.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and value:
            try:
                found.append(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                continue
    return found
