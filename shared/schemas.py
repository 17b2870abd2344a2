"""The base of every API request model, and the types that keep user input storable as-is.

A request field whose value is written to the document store unchanged (a free-form map, a map
keyed by user text) must be refused at the schema, as a 422, when the store would refuse it
later as a 500: a key starting with ``$`` or holding ``.`` or NUL, an integer outside the signed
64-bit range BSON (and orjson) holds, and values too deep or too large to be sane. A map kept as
JSON text (``JsonObject``) has free keys: they never become field names.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

MAX_DEPTH = 32
MAX_STRING = 10_000
MAX_ITEMS = 1_000
MAX_KEY = 200
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# one pattern for JSON Schema (propertyNames) and the check below: no leading `$`, `.` or NUL
KEY_PATTERN = r"^[^$.\x00][^.\x00]*$"


def whole_number(value: Any) -> Any:
    """3.0 -> 3 ahead of a strict int: JSON Schema's ``integer`` includes 3.0, a strict int not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Strict(BaseModel):
    """A request body that refuses unknown fields: a typo is a 422, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


def _check_key(key: object, path: str, *, as_field: bool) -> None:
    if not isinstance(key, str):
        raise ValueError(f"{path}: map keys must be strings")
    # an empty key is harmless in JSON text, and its schema (JsonObject) cannot forbid it deep down
    if (as_field and not key) or len(key) > MAX_KEY:
        raise ValueError(f"{path}: a map key must have 1 to {MAX_KEY} characters")
    if as_field and (key.startswith("$") or "." in key or "\x00" in key):
        raise ValueError(f"{path}: a map key must not start with '$' or contain '.' or NUL")


def check_storable(
    value: Any, path: str = "$", depth: int = 0, *, keys_as_fields: bool = True
) -> Any:
    """Return ``value`` unchanged if the document store can hold it, else raise ValueError.

    ``keys_as_fields=False`` is for a value stored as JSON text, whose keys are not field names.
    """
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"{path}: integers must fit in 64 signed bits")
    elif isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ValueError(f"{path}: strings hold at most {MAX_STRING} characters")
    elif isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise ValueError(f"{path}: a map holds at most {MAX_ITEMS} entries")
        for key, item in value.items():
            _check_key(key, path, as_field=keys_as_fields)
            check_storable(item, f"{path}.{key}", depth + 1, keys_as_fields=keys_as_fields)
    elif isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            raise ValueError(f"{path}: a list holds at most {MAX_ITEMS} items")
        for index, item in enumerate(value):
            check_storable(item, f"{path}[{index}]", depth + 1, keys_as_fields=keys_as_fields)
    else:
        raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")
    return value


def _check_json_text(value: Any) -> Any:
    return check_storable(value, keys_as_fields=False)


# a key of a map stored as-is; JSON Schema shows it as `propertyNames`
MapKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY, pattern=KEY_PATTERN)]


class KeysByPattern:
    """Key rule as `propertyNames`: pydantic's `patternProperties` would let other keys by."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        patterns = schema.pop("patternProperties", None)
        if patterns:
            ((pattern, values),) = patterns.items()
            schema["propertyNames"] = {**schema.get("propertyNames", {}), "pattern": pattern}
            schema["additionalProperties"] = values
        return schema


KEYS_BY_PATTERN = KeysByPattern()

_BOUNDS = (
    f"integers within 64 signed bits, at most {MAX_DEPTH} levels deep, strings up to "
    f"{MAX_STRING} characters, maps and lists up to {MAX_ITEMS} entries"
)

# a free-form JSON object stored as a document: its keys become field names
StorableMap = Annotated[
    dict[MapKey, Any],
    Field(
        max_length=MAX_ITEMS,
        description=f"a JSON object; keys without a leading '$', '.' or NUL; {_BOUNDS}",
    ),
    AfterValidator(check_storable),
    KEYS_BY_PATTERN,
]

# a free-form JSON object stored as JSON text: any keys, but numbers and sizes the encoder holds
JsonObject = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY)], Any],
    Field(max_length=MAX_ITEMS, description=f"a JSON object; {_BOUNDS}"),
    AfterValidator(_check_json_text),
]
