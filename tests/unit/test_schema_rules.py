"""Request schemas say the rules their validators enforce: a body that fits the JSON Schema is
accepted, one that does not is refused (what the schema fuzzer checks with random bodies, here
by example). A model may leave a refusal to the domain (a time zone's name); the schema not."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from services.feedback.schemas import FeedbackResponseCreate, SharingUpdate
from services.goals.schemas import (
    CheckInCreate,
    GoalCreate,
    GoalSettingsUpdate,
    GoalUpdate,
    KeyResultIn,
)
from services.kpi_ingest.schemas import MetricCreate
from services.notifications.schemas import PreferencesUpdate, WebhookSubscriptionCreate
from services.people.schemas import ImportRequest

CASES: list[tuple[type[BaseModel], dict[str, Any], bool]] = [
    (GoalCreate, {"title": "Ship", "horizon": "short_term"}, True),
    (GoalCreate, {"template_id": "learn-ux-design-principles"}, True),
    (GoalCreate, {}, False),
    (GoalCreate, {"title": "Ship"}, False),
    (GoalCreate, {"title": "Ship", "horizon": None}, False),
    (GoalCreate, {"template_id": None, "title": "Ship", "horizon": "long_term"}, True),
    (GoalCreate, {"title": "   ", "horizon": "short_term"}, False),
    (GoalUpdate, {"description": "more"}, True),
    (GoalUpdate, {"title": None}, False),
    (GoalUpdate, {"key_results": None}, False),
    (CheckInCreate, {"note": "went well"}, True),
    (CheckInCreate, {"confidence": 0.4}, True),
    (CheckInCreate, {"key_results": {"kr1": 3}}, True),
    (CheckInCreate, {}, False),
    (CheckInCreate, {"note": "", "key_results": {}, "confidence": None}, False),
    (KeyResultIn, {"title": "Demos", "target": 3}, True),
    (KeyResultIn, {"title": "Demos", "target": "3"}, False),
    (KeyResultIn, {"title": "Demos", "target": 3, "current": True}, False),
    (GoalSettingsUpdate, {"at_risk_margin": 0.2}, True),
    (GoalSettingsUpdate, {"at_risk_margin": False}, False),
    (GoalSettingsUpdate, {"update_reminder_days": "7"}, False),
    (ImportRequest, {"rows": []}, True),
    (ImportRequest, {"format": "csv", "csv": "a,b\n"}, True),
    (ImportRequest, {"format": "json", "rows": None}, False),
    (ImportRequest, {"format": "csv"}, False),
    (FeedbackResponseCreate, {"ratings": {"communication": 3.0}}, True),
    (FeedbackResponseCreate, {"ratings": {"communication": 3.5}}, False),
    (MetricCreate, {"key": "active_users", "name": "Active", "kind": "gauge"}, True),
    (MetricCreate, {"key": "Active Users", "name": "Active", "kind": "gauge"}, False),
    (MetricCreate, {"key": "a", "name": "A", "kind": "gauge", "thresholds": [False]}, False),
    (SharingUpdate, {"share_with_mentors": 0}, False),
    (SharingUpdate, {"share_with_mentors": True}, True),
    (WebhookSubscriptionCreate, {"url": "https://h.example/x", "event_types": ["goal.*"]}, True),
    (WebhookSubscriptionCreate, {"url": ", ", "event_types": ["goal.*"]}, False),
    (WebhookSubscriptionCreate, {"url": "https://h.example/x", "event_types": [" "]}, False),
    (PreferencesUpdate, {"time_zone": "Europe/Paris"}, True),
    (PreferencesUpdate, {"time_zone": "Mars/Olympus"}, False),
]


# models that accept what their schema refuses, because the domain refuses it (with a 422)
LEFT_TO_THE_DOMAIN = {PreferencesUpdate}


@pytest.mark.parametrize(
    ("model", "body", "valid"),
    CASES,
    ids=[f"{model.__name__}-{i}" for i, (model, _, _) in enumerate(CASES)],
)
def test_the_schema_and_the_model_agree(
    model: type[BaseModel], body: dict[str, Any], valid: bool
) -> None:
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    fits = jsonschema.Draft202012Validator(schema).is_valid(body)
    try:
        model.model_validate(body)
        accepted = True
    except ValidationError:
        accepted = False
    assert fits == valid
    assert accepted == fits or (accepted and model in LEFT_TO_THE_DOMAIN)
