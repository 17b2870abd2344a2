"""What the schema fuzzer found in the reviews API (tests/fuzz), one regression each.

A schema-valid request must not be refused as ``invalid-input``: either the OpenAPI says the
rule (and pydantic enforces exactly it), or the rule is one JSON Schema cannot say and breaking
it is a ``rule-not-met`` problem the fields' descriptions tell.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.reviews.config import ReviewsSettings
from services.reviews.cycle import Cycle, Population
from services.reviews.ladders import LEVEL_ID, Ladder, Level
from services.reviews.main import create_app
from services.reviews.schemas import (
    CalibrationIn,
    CycleCreate,
    LadderIn,
    ManagerReviewIn,
    SelfReviewIn,
)
from shared.errors import RuleNotMet
from tests.unit.reviews.test_domain import NOW, TODAY, deadlines

CYCLE = {
    "name": "H1",
    "period_start": "2026-01-01",
    "period_end": "2026-06-30",
    "deadlines": dict.fromkeys(
        ("self_review", "peer_feedback", "manager_review", "calibration", "release"), "2026-07-01"
    ),
}


def openapi() -> dict[str, Any]:
    app = create_app(ReviewsSettings(scheduler_enabled=False))
    schema: dict[str, Any] = app.openapi()
    return schema


def test_ratings_take_a_whole_float_as_json_schema_integer_does() -> None:
    # found: {"ratings": {"k0": 3.0}} and {"rating": 100.0} were refused as not integers
    form = SelfReviewIn.model_validate({"ratings": {"communication": 3.0}})
    assert form.ratings == {"communication": 3}
    assert type(form.ratings["communication"]) is int
    manager = ManagerReviewIn.model_validate(
        {"ratings": {"communication": 4.0}, "overall_rating": 2.0, "summary": "ok"}
    )
    assert (manager.overall_rating, type(manager.overall_rating)) == (2, int)
    assert CalibrationIn.model_validate({"rating": 5.0, "reason": "x"}).rating == 5
    for bad in ("3", True, 3.5, 0, 6):
        with pytest.raises(ValidationError):
            SelfReviewIn.model_validate({"ratings": {"communication": bad}})


def test_the_openapi_keeps_the_rating_bounds_it_enforces() -> None:
    schemas = openapi()["components"]["schemas"]
    rating = schemas["SelfReviewIn"]["properties"]["ratings"]["additionalProperties"]
    assert (rating["type"], rating["minimum"], rating["maximum"]) == ("integer", 1, 5)
    overall = schemas["ManagerReviewIn"]["properties"]["overall_rating"]
    assert (overall["minimum"], overall["maximum"]) == (1, 100)
    assert "rule-not-met" in overall["description"]


def test_a_ladder_version_is_an_integer_never_a_string_or_a_boolean() -> None:
    # found: {"version": "1"} (and true) were accepted though the schema says integer
    levels = [{"id": "pm", "name": "PM", "expectations": {"communication": 3}}]
    assert LadderIn.model_validate({"name": "x", "levels": levels, "version": 1.0}).version == 1
    for bad in ("1", True, -1):
        with pytest.raises(ValidationError):
            LadderIn.model_validate({"name": "x", "levels": levels, "version": bad})


def test_the_population_rule_is_in_the_schema() -> None:
    # found: {"kind": "group", "value": null} fit the schema and was refused by the domain
    with pytest.raises(ValidationError):
        CycleCreate.model_validate({**CYCLE, "population": {"kind": "group", "value": None}})
    with pytest.raises(ValidationError):
        CycleCreate.model_validate({**CYCLE, "population": {"kind": "everyone", "value": "x"}})
    body = CycleCreate.model_validate({**CYCLE, "population": {"kind": "group", "value": "g1"}})
    assert (body.population.kind, body.population.value) == ("group", "g1")
    create = openapi()["components"]["schemas"]["CycleCreate"]["properties"]["population"]
    assert create["discriminator"]["propertyName"] == "kind"


def test_a_blank_summary_or_reason_is_refused_by_the_schema() -> None:
    schemas = openapi()["components"]["schemas"]
    assert schemas["ManagerReviewIn"]["properties"]["summary"]["pattern"] == r"\S"
    assert schemas["CalibrationIn"]["properties"]["reason"]["pattern"] == r"\S"
    with pytest.raises(ValidationError):
        ManagerReviewIn.model_validate(
            {"ratings": {"communication": 3}, "overall_rating": 3, "summary": "   "}
        )


def test_the_ladder_id_of_a_put_has_its_pattern_in_the_openapi() -> None:
    # found: PUT /v1/ladders/±Ñ fit the schema and was refused by the domain
    put = openapi()["paths"]["/v1/ladders/{ladder_id}"]["put"]
    [ladder_id] = [p for p in put["parameters"] if p["name"] == "ladder_id"]
    assert ladder_id["schema"]["pattern"] == LEVEL_ID.pattern


def test_rules_between_fields_are_rule_not_met() -> None:
    # found: repeated level ids, a deadline after the next one, a period in reverse
    level = Level("pm", "PM", {"communication": 3}, ())
    with pytest.raises(RuleNotMet):
        Ladder.create(id="pm", name="PM", levels=[level, level])
    other = Level("spm", "Senior PM", {"leadership": 3}, ())
    with pytest.raises(RuleNotMet):
        Ladder.create(id="pm", name="PM", levels=[level, other])
    values: dict[str, Any] = {
        "id": "c1",
        "tenant": "acme",
        "name": "H1",
        "population": Population("everyone"),
        "created_by": "hr",
        "created_at": NOW,
    }
    with pytest.raises(RuleNotMet):
        Cycle.create(
            **values, period_start=TODAY, period_end=TODAY, deadlines=deadlines(calibration=40)
        )
    with pytest.raises(RuleNotMet):
        Cycle.create(
            **values,
            period_start=TODAY,
            period_end=TODAY.replace(year=TODAY.year - 1),
            deadlines=deadlines(),
        )
