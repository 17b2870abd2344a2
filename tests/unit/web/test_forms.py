"""The goal form ↔ the goals API body, and API problems as field errors."""

from __future__ import annotations

from services.web.client import field_errors
from services.web.goal_forms import form_errors, goal_body, goal_values, parse_filters


def test_a_key_result_bound_to_a_kpi_becomes_the_apis_binding() -> None:
    body, errors = goal_body(
        {
            "title": "Drive the launch of a product with real impact",
            "horizon": "long_term",
            "status": "active",
            "key_results.0.title": "Mobile adoption reaches 40 %",
            "key_results.0.start": "0",
            "key_results.0.target": "40",
            "key_results.0.unit": "%",
            "key_results.0.source": "kpi",
            "key_results.0.metric": "adoption_rate",
            "key_results.0.filters": "product=mobile, region = eu",
            "key_results.1.title": "",
        },
        creating=True,
    )
    assert errors == {}
    assert body["key_results"] == [
        {
            "title": "Mobile adoption reaches 40 %",
            "target": 40.0,
            "start": 0.0,
            "unit": "%",
            "source": {
                "kpi": {
                    "metric": "adoption_rate",
                    "filters": {"product": "mobile", "region": "eu"},
                    "aggregation": "latest",
                }
            },
        }
    ]


def test_what_cannot_be_sent_is_refused_by_field_before_the_api() -> None:
    _, errors = goal_body(
        {
            "title": "x",
            "review_every_days": "soon",
            "key_results.0.title": "Queries",
            "key_results.0.target": "lots",
            "key_results.1.title": "Bound",
            "key_results.1.target": "3",
            "key_results.1.source": "kpi",
            "key_results.1.filters": "product",
        },
        creating=True,
    )
    assert set(errors) == {
        "review_every_days",
        "key_results.0.target",
        "key_results.1.metric",
        "key_results.1.filters",
    }


def test_a_template_goal_without_key_results_keeps_the_templates() -> None:
    body, _ = goal_body({"template_id": "start-a-company"}, creating=True)
    assert body == {"template_id": "start-a-company"}


def test_an_edit_round_trips_through_the_form() -> None:
    goal = {
        "title": "Launch",
        "horizon": "long_term",
        "category": "outcome",
        "visibility": "team",
        "review_every_days": 90,
        "key_results": [
            {
                "id": "kr-1",
                "title": "Adoption",
                "start": 0,
                "target": 40,
                "unit": "%",
                "direction": "increase",
                "source": {"kpi": {"metric": "adoption_rate", "filters": {"product": "mobile"}}},
            }
        ],
    }
    body, errors = goal_body(goal_values(goal), creating=False)
    assert errors == {}
    [kr] = body["key_results"]
    assert kr["id"] == "kr-1"
    assert kr["source"]["kpi"]["filters"] == {"product": "mobile"}
    assert body["review_every_days"] == 90


def test_problem_errors_land_on_the_forms_field_names() -> None:
    problem = {
        "detail": "review_every_days: Input should be greater than or equal to 1",
        "errors": [
            {"loc": ["body", "review_every_days"], "msg": "Input should be >= 1"},
            {"loc": ["body", "key_results", 0, "KpiSourceIn", "kpi", "metric"], "msg": "x"},
            {"loc": ["body"], "msg": "Value error, title and horizon are required"},
        ],
    }
    fields = field_errors(problem)
    assert fields["review_every_days"] == "Input should be >= 1"
    assert fields[""] == "title and horizon are required"
    assert form_errors({"key_results.0.source.kpi.metric": "x"}) == {"key_results.0.metric": "x"}


def test_filters_are_written_dimension_equals_value() -> None:
    assert parse_filters("") == {}
    assert parse_filters("product=mobile;plan=pro") == {"product": "mobile", "plan": "pro"}


def test_a_goal_is_due_for_review_when_pending_or_when_its_date_has_come() -> None:
    from services.web.pages.dashboard import review_due

    today = "2026-12-02"
    assert review_due({"review_pending": "manager_changed"}, today)
    assert review_due({"review_pending": None, "next_review_on": "2026-12-01"}, today)
    assert not review_due({"review_pending": None, "next_review_on": "2027-03-01"}, today)
    assert not review_due({"review_pending": None, "next_review_on": None}, today)
