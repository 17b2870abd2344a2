"""The built-in ladder, title mapping, and the goal templates it suggests."""

from __future__ import annotations

import pytest

from services.goals.templates import BUILTIN_BY_ID
from services.reviews.ladders import BUILT_IN_LADDER, SKILLS, TEMPLATE_SKILLS, Ladder, Level
from shared.errors import InvalidInput


def test_the_built_in_ladder_rates_the_six_skills_at_every_level_and_grows() -> None:
    names = [level.name for level in BUILT_IN_LADDER.levels]
    assert names == ["Associate PM", "PM", "Senior PM", "Group PM", "Director of Product"]
    for lower, higher in zip(BUILT_IN_LADDER.levels, BUILT_IN_LADDER.levels[1:], strict=False):
        assert set(lower.expectations) == set(SKILLS)
        assert all(1 <= v <= 5 for v in higher.expectations.values())
        assert all(higher.expectations[s] >= lower.expectations[s] for s in SKILLS)


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("Product Manager", "pm"),
        ("Senior Product Manager", "senior_pm"),
        ("  senior   product manager ", "senior_pm"),
        ("Senior Product Manager, Growth", "senior_pm"),
        ("Associate Product Manager", "associate_pm"),
        ("Director of Product", "director_of_product"),
        ("Software Engineer", None),
        (None, None),
    ],
)
def test_a_job_title_maps_to_the_longest_title_it_names(
    title: str | None, level: str | None
) -> None:
    found = BUILT_IN_LADDER.level_for_title(title)
    assert (found.id if found else None) == level


def test_the_suggested_templates_are_the_goals_services_with_their_skills() -> None:
    for template_id, skills in TEMPLATE_SKILLS.items():
        assert template_id in BUILTIN_BY_ID, template_id
        assert set(skills) == set(BUILTIN_BY_ID[template_id]["skills"]), template_id
    assert set(BUILTIN_BY_ID) == set(TEMPLATE_SKILLS)


def test_the_level_above_is_the_default_target() -> None:
    assert BUILT_IN_LADDER.above("pm").id == "senior_pm"  # type: ignore[union-attr]
    assert BUILT_IN_LADDER.above("director_of_product") is None
    assert BUILT_IN_LADDER.above("unknown") is None


@pytest.mark.parametrize(
    "levels",
    [
        [],
        [Level("a", "A", {"ux_design": 6})],
        [Level("a", "A", {"ux_design": 2}), Level("a", "B", {"ux_design": 3})],
        [Level("a", "A", {"ux_design": 2}), Level("b", "B", {"communication": 3})],
        [Level("A!", "A", {"ux_design": 2})],
        [Level("a", "A", {"Bad Skill": 2})],
    ],
)
def test_an_invalid_ladder_is_refused(levels: list[Level]) -> None:
    with pytest.raises(InvalidInput):
        Ladder.create(id="custom", name="Custom", levels=levels)


def test_a_custom_ladder_keeps_its_skills_and_normalised_titles() -> None:
    ladder = Ladder.create(
        id="design",
        name="Design",
        levels=[Level("d1", "Designer", {"ux_design": 3, "research": 2}, ("Product  Designer",))],
    )
    assert ladder.skills == ("ux_design", "research")
    assert ladder.level_for_title("Senior Product Designer").id == "d1"  # type: ignore[union-attr]
