"""The base of every API request model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A request body that refuses unknown fields: a typo is a 422, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")
