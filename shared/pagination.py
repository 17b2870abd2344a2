"""Opaque cursors for ``{"items": [...], "next_cursor": ...}`` lists."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

from shared.errors import InvalidInput

T = TypeVar("T")

CURSOR_DESCRIPTION = (
    "The `next_cursor` of the previous page. It is opaque: any value the API did not return is "
    "refused with a 422 `/problems/invalid-cursor`."
)


class InvalidCursor(InvalidInput):
    """A cursor the API did not hand out: its own problem type, so clients can restart the list."""

    code = "invalid-cursor"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("the cursor is not one this API returned") from exc
    if not isinstance(value, dict):
        raise InvalidCursor("the cursor is not one this API returned")
    return value
