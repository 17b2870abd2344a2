"""The shared check that user input can be stored as-is, or is refused at the schema."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared.schemas import MAX_DEPTH, MAX_STRING, JsonObject, StorableMap


class Body(BaseModel):
    mapping: StorableMap


class TextBody(BaseModel):
    mapping: JsonObject


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "mapping",
    [
        {"a.b": 1},
        {"$where": 1},
        {"ok": {"deep.er": 1}},
        {"ok": [{"$set": 1}]},
        {"nul\x00": 1},
        {"big": 2**63},
        {"small": -(2**63) - 1},
        {"list": [1, 2**70]},
        nested(MAX_DEPTH + 2),
        {"long": "x" * (MAX_STRING + 1)},
        {"many": list(range(1001))},
    ],
    ids=[
        "dot-key",
        "dollar-key",
        "nested-dot-key",
        "dollar-key-in-list",
        "nul-key",
        "int-over-64-bits",
        "int-under-64-bits",
        "big-int-in-list",
        "too-deep",
        "too-long-string",
        "too-long-list",
    ],
)
def test_input_the_store_would_refuse_is_a_validation_error(mapping: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Body(mapping=mapping)


def test_storable_input_passes_unchanged() -> None:
    mapping = {
        "value": "$.metrics[0].v",
        "dims": {"team": "a.b", "cost$": 2**63 - 1, "low": -(2**63)},
        "ok": [1.5, None, True, "x" * MAX_STRING],
        "deep": nested(MAX_DEPTH - 2),
    }
    assert Body(mapping=mapping).mapping == mapping


def test_the_key_rule_is_in_the_json_schema() -> None:
    schema = Body.model_json_schema()["properties"]["mapping"]
    assert schema["propertyNames"]["pattern"] == r"^[^$.\x00][^.\x00]*$"
    assert "patternProperties" not in schema
    assert "64 signed bits" in schema["description"]


def test_a_map_kept_as_json_text_takes_any_key_but_not_big_integers_or_depth() -> None:
    mapping = {"metrics": {"http.server.duration": "latency", "$ref": "x"}}
    assert TextBody(mapping=mapping).mapping == mapping
    for refused in ({"v": 2**64}, nested(MAX_DEPTH + 2), {"v": "x" * (MAX_STRING + 1)}):
        with pytest.raises(ValidationError):
            TextBody(mapping=refused)
