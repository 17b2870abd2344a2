"""Every event payload's JSON schema is snapshotted: a contract change can't slip in unannounced.

Adding an optional field is compatible (update the snapshot with ``UPDATE_CONTRACTS=1``); removing
or retyping a field needs a new ``.v2`` event type published beside the old one, and recording
refuses such a change (the compatibility checks run before anything is written).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from shared.events import CATALOGUE

SNAPSHOT = Path(__file__).with_name("event_contracts.json")


def current() -> dict[str, Any]:
    return {
        name: {"topic": model.topic, "schema": model.model_json_schema()}
        for name, model in sorted(CATALOGUE.items())
    }


def test_event_types_follow_the_naming_rule() -> None:
    for name in CATALOGUE:
        parts = name.split(".")
        assert parts[0] == "northstar", name
        assert parts[-1].startswith("v"), name
        assert parts[-1][1:].isdigit(), name


def _shape(schema: Any) -> Any:
    """A schema without its prose (title, description): what a consumer's parser relies on."""
    if isinstance(schema, dict):
        return {k: _shape(v) for k, v in schema.items() if k not in ("title", "description")}
    if isinstance(schema, list):
        return [_shape(v) for v in schema]
    return schema


def incompatible_changes(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What a consumer of the recorded contracts would break on: a removed event type, a lost,
    retyped or newly required field (of the payload or of a nested model in ``$defs``)."""
    problems = [f"event type removed: {name}" for name in sorted(set(then) - set(now))]
    for name in sorted(set(then) & set(now)):
        schema_then, schema_now = then[name]["schema"], now[name]["schema"]
        models = [("", schema_then, schema_now)]
        defs_then, defs_now = schema_then.get("$defs", {}), schema_now.get("$defs", {})
        problems += [
            f"{name}: nested model {d} removed" for d in sorted(set(defs_then) - set(defs_now))
        ]
        models += [
            (f"{d}.", defs_then[d], defs_now[d]) for d in sorted(set(defs_then) & set(defs_now))
        ]
        for prefix, model_then, model_now in models:
            props_then = model_then.get("properties", {})
            props_now = model_now.get("properties", {})
            for field in sorted(props_then):
                if field not in props_now:
                    problems.append(f"{name}: lost field {prefix}{field}")
                elif _shape(props_then[field]) != _shape(props_now[field]):
                    problems.append(
                        f"{name}: field {prefix}{field} retyped from "
                        f"{_shape(props_then[field])} to {_shape(props_now[field])}"
                    )
            newly_required = set(model_now.get("required", [])) - set(
                model_then.get("required", [])
            )
            problems += [f"{name}: {prefix}{f} newly required" for f in sorted(newly_required)]
        if then[name]["topic"] != now[name]["topic"]:
            problems.append(
                f"{name}: moved from topic {then[name]['topic']} to {now[name]['topic']}"
            )
    return problems


def test_event_contracts_match_the_snapshot() -> None:
    snapshot = json.loads(SNAPSHOT.read_text())
    now = current()
    problems = incompatible_changes(snapshot, now)
    # checked BEFORE any recording: UPDATE_CONTRACTS=1 must never record a breaking change
    assert not problems, (
        "incompatible event contract change; publish a new .v2 type beside the old one instead:\n"
        + "\n".join(problems)
    )
    if os.environ.get("UPDATE_CONTRACTS") == "1":
        SNAPSHOT.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        return
    if now != snapshot:
        pytest.fail("event contracts changed compatibly; run with UPDATE_CONTRACTS=1 to record")


def test_a_retyped_field_is_incompatible_even_when_recording() -> None:
    """The check itself can fail: a retyped, a lost and a newly required field are each caught."""
    snapshot = json.loads(SNAPSHOT.read_text())
    name = "northstar.kpi.datapoint.recorded.v1"
    retyped = json.loads(json.dumps(snapshot))
    retyped[name]["schema"]["properties"]["value"] = {"type": "string"}
    assert incompatible_changes(snapshot, retyped) == [
        f"{name}: field value retyped from {{'type': 'number'}} to {{'type': 'string'}}"
    ]
    lost = json.loads(json.dumps(snapshot))
    del lost[name]["schema"]["properties"]["dimensions"]
    assert incompatible_changes(snapshot, lost) == [f"{name}: lost field dimensions"]
    required = json.loads(json.dumps(snapshot))
    required[name]["schema"]["required"].append("dimensions")
    assert incompatible_changes(snapshot, required) == [f"{name}: dimensions newly required"]
    assert incompatible_changes(snapshot, snapshot) == []
