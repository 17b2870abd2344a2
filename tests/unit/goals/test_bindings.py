"""Binding keys: a point finds exactly the filters it matches, by ``_id``-able keys."""

from __future__ import annotations

from datetime import UTC, datetime

from services.goals.bindings import (
    binding_key,
    goal_bindings,
    keys_for_point,
    shape_of,
    shapes_key,
)
from services.goals.domain import Goal
from services.goals.progress import KeyResult, KpiBinding

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_point_looks_up_one_key_per_shape_its_dimensions_cover() -> None:
    shapes = [shape_of({}), shape_of({"product": "x"}), shape_of({"product": "x", "plan": "y"})]
    keys = keys_for_point("acme", "adoption", {"product": "mobile", "region": "eu"}, shapes)
    assert keys == [
        binding_key("acme", "adoption", {}),
        binding_key("acme", "adoption", {"product": "mobile"}),
    ]  # the (product, plan) shape needs a dimension the point lacks


def test_the_key_of_a_filter_is_the_key_the_matching_point_builds() -> None:
    filters = {"region": "eu", "product": "mobile"}
    [key] = keys_for_point(
        "acme", "adoption", {"product": "mobile", "region": "eu", "os": "ios"}, [shape_of(filters)]
    )
    assert key == binding_key("acme", "adoption", {"product": "mobile", "region": "eu"})
    assert key != binding_key("acme", "adoption", {"product": "web", "region": "eu"})


def test_keys_cannot_be_confused_whatever_names_and_values_contain() -> None:
    assert binding_key("a|b", "m", {}) != binding_key("a", "b|m", {})
    assert binding_key("a", "m", {"k": 'v","x'}) != binding_key("a", "m", {"k": "v", "x": ""})
    assert shapes_key("a", "m") != binding_key("a", "m", {})


def test_a_point_with_many_dimensions_costs_one_lookup_per_shape_not_two_to_the_n() -> None:
    dimensions = {f"d{i}": str(i) for i in range(16)}
    assert len(keys_for_point("acme", "m", dimensions, [shape_of({"d3": "x"})])) == 1


def goal(status: str, *filters: dict[str, str]) -> Goal:
    krs = {
        f"k{i}": KeyResult(f"k{i}", "KR", 0, 10, 0, kpi=KpiBinding("adoption", f))
        for i, f in enumerate(filters)
    }
    krs["manual"] = KeyResult("manual", "Talks", 0, 4, 0)
    return Goal(
        id="g",
        tenant="acme",
        owner_id="pm",
        title="T",
        horizon="short_term",
        key_results=krs,
        status=status,
    )  # type: ignore[arg-type]


def test_a_draft_or_active_goal_is_indexed_once_per_bound_key_result() -> None:
    for status in ("draft", "active"):
        bound = goal_bindings(goal(status, {"product": "mobile"}, {}))
        assert bound == {
            binding_key("acme", "adoption", {"product": "mobile"}): ("adoption", '["product"]'),
            binding_key("acme", "adoption", {}): ("adoption", "[]"),
        }
    for status in ("achieved", "abandoned"):
        assert goal_bindings(goal(status, {"product": "mobile"})) == {}
