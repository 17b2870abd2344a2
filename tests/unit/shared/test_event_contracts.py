"""Every event payload's JSON schema is snapshotted: a contract change can't slip in unannounced.

Adding an optional field is compatible (update the snapshot with ``UPDATE_CONTRACTS=1``); removing
or retyping a field needs a new ``.v2`` event type published beside the old one.
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


def test_event_contracts_match_the_snapshot() -> None:
    if os.environ.get("UPDATE_CONTRACTS") == "1":
        SNAPSHOT.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n")
    snapshot = json.loads(SNAPSHOT.read_text())
    now = current()
    removed = sorted(set(snapshot) - set(now))
    assert not removed, f"event types removed: {removed}"
    for name, contract in snapshot.items():
        props_then = contract["schema"].get("properties", {})
        props_now = now[name]["schema"].get("properties", {})
        lost = sorted(set(props_then) - set(props_now))
        assert not lost, f"{name} lost fields {lost}: publish a new version instead"
        required_now = set(now[name]["schema"].get("required", []))
        newly_required = sorted(required_now - set(contract["schema"].get("required", [])))
        assert not newly_required, f"{name} made {newly_required} required: not compatible"
    if now != snapshot:
        pytest.fail("event contracts changed compatibly; run with UPDATE_CONTRACTS=1 to record")
