"""Domain errors that carry their HTTP status; one handler renders them as RFC 9457 problems."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """An expected business outcome that the caller must hear about (always a 4xx)."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(DomainError):
    status, code, title = 422, "invalid-input", "The request is not valid"


class RuleNotMet(InvalidInput):
    """A rule between fields that JSON Schema cannot say (a due date after a start date).

    Its own problem type, so the OpenAPI can name it and a schema fuzzer tell it from a
    rejection the schema should have expressed.
    """

    code, title = "rule-not-met", "A rule between fields is not met"


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class VersionConflict(Conflict):
    """Optimistic concurrency lost a race: a user gets 409, a consumer retries."""

    code, title = "version-conflict", "The resource was changed concurrently"


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload-too-large", "The request is too large"


class TooManyRequests(DomainError):
    status, code, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class Unavailable(Exception):
    """A dependency is down; the caller should retry later (503 with Retry-After).

    Not a DomainError: consumers treat it as transient and retry instead of dead-lettering.
    """

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after
