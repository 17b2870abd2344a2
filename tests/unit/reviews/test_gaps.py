"""Gap analysis against the target level, over evidence given directly."""

from __future__ import annotations

from services.reviews.gaps import Evidence, GoalRef, analyse
from services.reviews.ladders import BUILT_IN_LADDER


def test_gaps_use_the_manager_then_feedback_then_self_and_suggest_templates() -> None:
    goal = GoalRef("g1", "Speak at meetups", "active", 0.4)
    evidence = Evidence(
        self_ratings={"communication": 5, "ux_design": 1},
        manager_ratings={"leadership": 2},
        feedback={"communication": (2.5, 4), "leadership": (5.0, 2)},
        goals_by_skill={"communication": [goal]},
    )
    analysis = analyse(BUILT_IN_LADDER, "pm", None, evidence)
    assert analysis.target_level == "senior_pm"  # the next level up
    skills = {s.skill: s for s in analysis.skills}
    # feedback (2.5) beats the self rating (5); the manager (2) beats feedback (5)
    assert skills["communication"].observed == 2.5
    assert skills["communication"].gap == 1.5
    assert skills["leadership"].observed == 2.0
    assert skills["leadership"].gap == 1.0
    assert skills["ux_design"].gap == 2.0  # only a self rating: 1 against 3
    assert skills["data_analysis"].gap is None  # no evidence is not a gap
    assert skills["data_analysis"].suggested_templates == []
    assert skills["communication"].goals == [goal]
    assert "enhance-communication-skills" in skills["communication"].suggested_templates
    assert analysis.suggested_templates[0] == "learn-ux-design-principles"  # widest gap first
    assert len(analysis.suggested_templates) == len(set(analysis.suggested_templates))


def test_a_chosen_target_wins_and_no_level_means_no_expectation() -> None:
    evidence = Evidence(feedback={"communication": (4.0, 1)})
    aimed = analyse(BUILT_IN_LADDER, "pm", "director_of_product", evidence)
    assert {s.skill: s.gap for s in aimed.skills}["communication"] == 1.0
    unknown = analyse(BUILT_IN_LADDER, None, None, evidence)
    assert unknown.target_level is None
    assert all(s.gap is None for s in unknown.skills)
