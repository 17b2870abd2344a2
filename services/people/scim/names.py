"""SCIM attribute names in any case (RFC 7643 §2.1: attribute names are case-insensitive).

Identity providers and third-party test collections send ``UserName``, ``Name.GivenName`` or an
enterprise extension reading ``{"Department": ..., "Manager": {"Value": ...}}``. Every key of a
request body is brought to the schema's own spelling before anything reads it, so the dialect
fixes in ``protocol`` and scim2-models see one form. The table comes from the scim2-models
resources themselves (every attribute and sub-attribute of User, the enterprise extension,
Group, PatchOp and SearchRequest), so it follows the models rather than a hand-kept list.
"""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel
from scim2_models import EnterpriseUser, Group, PatchOp, SearchRequest, User


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        if arg is not types.NoneType:
            found.extend(_models_in(arg))
    return found


def _collect(model: type[BaseModel], table: dict[str, str], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        spelled = field.serialization_alias or field.alias or name
        table.setdefault(spelled.lower(), spelled)
        for nested in _models_in(field.annotation):
            _collect(nested, table, seen)


@cache
def canonical_names() -> dict[str, str]:
    """Lower-cased attribute name → the schema's spelling, for every name we accept."""
    table: dict[str, str] = {}
    seen: set[type[BaseModel]] = set()
    user = User[EnterpriseUser]
    for model in (user, EnterpriseUser, Group, PatchOp[user], PatchOp[Group], SearchRequest):
        _collect(model, table, seen)
    return table


def canonical_name(key: str) -> str:
    """The schema's spelling of an attribute name given in any case (unknown names unchanged)."""
    return canonical_names().get(key.lower(), key)
