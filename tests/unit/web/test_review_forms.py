"""The reviews pages' form ↔ API body translations (pure)."""

from __future__ import annotations

from services.web.pages.admin_reviews import (
    cycle_body,
    distribution_chart,
    ladder_body,
    population_errors,
)
from services.web.pages.growth import gap_chart

LADDER = {
    "name": "PM",
    "skills": ["communication", "ux_design"],
    "levels": [{"id": "pm", "name": "PM", "expectations": {}, "titles": ["pm"]}],
}


def test_a_ladder_form_becomes_the_ladder_with_its_version() -> None:
    values = {
        "levels.0.expectations.communication": "3",
        "levels.0.expectations.ux_design": "4",
        "version": "2",
    }
    body, errors = ladder_body(LADDER, values)
    assert errors == {}
    assert body["version"] == 2
    assert body["levels"][0] == {
        "id": "pm",
        "name": "PM",
        "expectations": {"communication": 3, "ux_design": 4},
        "titles": ["pm"],
    }


def test_a_ladder_cell_that_is_not_a_number_is_refused_by_its_field() -> None:
    _, errors = ladder_body(LADDER, {"levels.0.expectations.communication": "x"})
    assert set(errors) == {
        "levels.0.expectations.communication",
        "levels.0.expectations.ux_design",
    }


def test_a_cycle_for_everyone_has_no_population_value() -> None:
    body = cycle_body({"name": " H2 ", "population.kind": "everyone", "population.value": "x"})
    assert body["name"] == "H2"
    assert body["population"] == {"kind": "everyone"}
    assert body["deadlines"]["release"] is None


def test_charts_carry_every_skill_and_every_rating() -> None:
    gaps = {"skills": [{"skill": "ux_design", "expected": 4, "observed": None}]}
    assert gap_chart(gaps) == {"labels": ["Ux design"], "expected": [4], "observed": [None]}
    calibration = {"scale": 3, "overall": {"2": 5}}
    assert distribution_chart(calibration) == {"labels": ["1", "2", "3"], "counts": [0, 5, 0]}


def test_a_population_problem_shows_next_to_the_population_value_input() -> None:
    # the reviews API names the union's branch in `loc` since the rule moved into its schema
    errors = {"population.department.value": "Field required", "name": "too long"}
    assert population_errors(errors) == {"name": "too long", "population.value": "Field required"}
    assert population_errors({"population": "bad kind"}) == {"population.value": "bad kind"}
