"""Webhook signatures: Standard Webhooks (every format) and Segment's ``X-Signature``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from standardwebhooks import Webhook

from shared.errors import Unauthorized

# Standard Webhooks' own tolerance (fixed by the package): 5 minutes either way
TOLERANCE_S = 300


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

    def standard(self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> str:
        """The verified ``webhook-id``; raises Unauthorized (401) for anything else."""
        if not (
            headers.get("webhook-id")
            and headers.get("webhook-timestamp")
            and headers.get("webhook-signature")
        ):
            raise Unauthorized(
                "webhook-id, webhook-timestamp and webhook-signature headers are required"
            )
        wanted = {
            "webhook-id": headers["webhook-id"],
            "webhook-timestamp": headers["webhook-timestamp"],
            "webhook-signature": headers["webhook-signature"],
        }
        reason = "no secret of this source is valid"
        for secret in secrets:
            try:
                self._hook(secret).verify(body, wanted, json_parse=False)
            except Exception as exc:  # the package raises several types for bad input
                reason = str(exc) or type(exc).__name__
                if "too old" in reason or "too new" in reason:
                    break
                continue
            return wanted["webhook-id"]
        raise Unauthorized(f"the webhook signature does not verify: {reason}")

    @staticmethod
    def segment(body: bytes, signature: str, secrets: Sequence[str]) -> None:
        """Segment's ``X-Signature``: hex HMAC-SHA1 of the body with the shared secret."""
        for secret in secrets:
            expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
            if hmac.compare_digest(expected, signature.strip().lower()):
                return
        raise Unauthorized("the X-Signature does not verify")
