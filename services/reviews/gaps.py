"""Gap analysis: where a person stands on each skill against the level they aim for.

Pure: no I/O. Evidence is what the service learned from events (feedback ratings, goals) and
its own reviews (the latest self and manager assessments). The observed level of a skill is
the manager's assessment when there is one (it is calibrated), else the feedback average, else
the self-assessment; the gap is how far it falls short of the expected level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.reviews.ladders import Ladder, Level, templates_for


@dataclass(frozen=True)
class GoalRef:
    goal_id: str
    title: str
    status: str
    progress: float


@dataclass(frozen=True)
class Evidence:
    """Everything known about one person's skills."""

    self_ratings: dict[str, int] = field(default_factory=dict)
    manager_ratings: dict[str, int] = field(default_factory=dict)
    feedback: dict[str, tuple[float, int]] = field(default_factory=dict)  # skill -> (avg, n)
    goals_by_skill: dict[str, list[GoalRef]] = field(default_factory=dict)


@dataclass(frozen=True)
class SkillGap:
    skill: str
    expected: int
    self_rating: int | None
    manager_rating: int | None
    feedback_average: float | None
    feedback_count: int
    observed: float | None
    gap: float | None  # None: no evidence yet
    goals: list[GoalRef]
    suggested_templates: list[str]


@dataclass(frozen=True)
class GapAnalysis:
    ladder_id: str
    current_level: str | None
    target_level: str | None
    skills: list[SkillGap]

    @property
    def suggested_templates(self) -> list[str]:
        """Every suggested template once, the widest gaps first."""
        ordered = sorted((s for s in self.skills if s.gap), key=lambda s: (-(s.gap or 0), s.skill))
        return list(dict.fromkeys(t for s in ordered for t in s.suggested_templates))


def observed(skill: str, evidence: Evidence) -> float | None:
    if skill in evidence.manager_ratings:
        return float(evidence.manager_ratings[skill])
    if skill in evidence.feedback:
        return round(evidence.feedback[skill][0], 2)
    if skill in evidence.self_ratings:
        return float(evidence.self_ratings[skill])
    return None


def analyse(
    ladder: Ladder, current: str | None, target: str | None, evidence: Evidence
) -> GapAnalysis:
    """Expected (at the target level, else the level above the current one) vs evidence."""
    aim: Level | None = ladder.level(target) or ladder.above(current) or ladder.level(current)
    skills: list[SkillGap] = []
    for skill in ladder.skills:
        expected = aim.expectations.get(skill, 0) if aim else 0
        seen = observed(skill, evidence)
        gap = None if seen is None or aim is None else round(max(0.0, expected - seen), 2)
        avg, count = evidence.feedback.get(skill, (None, 0))
        # no evidence is not a gap: suggest only where the evidence shows one
        suggestions = templates_for(skill) if gap else []
        skills.append(
            SkillGap(
                skill=skill,
                expected=expected,
                self_rating=evidence.self_ratings.get(skill),
                manager_rating=evidence.manager_ratings.get(skill),
                feedback_average=round(avg, 2) if avg is not None else None,
                feedback_count=count,
                observed=seen,
                gap=gap,
                goals=list(evidence.goals_by_skill.get(skill, [])),
                suggested_templates=suggestions,
            )
        )
    return GapAnalysis(ladder.id, current, aim.id if aim else None, skills)
