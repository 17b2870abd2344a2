"""Career ladders: levels with the skill levels (1-5) each expects, and how a title maps to one.

Pure: no I/O. The built-in product-management ladder follows the career guide's six skills; a
tenant may edit it (same id) or add ladders for other roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.errors import InvalidInput, RuleNotMet

SKILLS = (
    "communication",
    "data_analysis",
    "leadership",
    "customer_centric",
    "industry_knowledge",
    "ux_design",
)
SKILL_ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
LEVEL_ID = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
PRODUCT_MANAGEMENT = "product_management"
MAX_LEVELS = 20
MAX_SKILLS = 20
MAX_TITLES = 20

# goal templates of the goals service (services/goals/templates.py) and the skills they build;
# a unit test keeps this list true to theirs. Short-term ones first: the first step to suggest.
TEMPLATE_SKILLS: dict[str, tuple[str, ...]] = {
    "enhance-communication-skills": ("communication",),
    "learn-ux-design-principles": ("ux_design", "customer_centric"),
    "strengthen-data-analysis": ("data_analysis",),
    "gain-experience-in-another-industry": ("industry_knowledge", "customer_centric"),
    "reach-a-leadership-position": ("leadership", "communication"),
    "drive-a-product-launch-with-real-impact": ("leadership", "customer_centric", "data_analysis"),
    "start-a-company": ("leadership", "industry_knowledge", "customer_centric"),
    "become-a-thought-leader": ("communication", "industry_knowledge"),
}


def templates_for(skill: str) -> list[str]:
    return [template for template, skills in TEMPLATE_SKILLS.items() if skill in skills]


@dataclass(frozen=True)
class Level:
    id: str
    name: str
    expectations: dict[str, int]  # skill -> 1..5
    titles: tuple[str, ...] = ()  # job titles that map to this level (case-insensitive)


@dataclass(frozen=True)
class Ladder:
    id: str
    name: str
    levels: tuple[Level, ...]
    built_in: bool = False
    version: int = 0
    skills: tuple[str, ...] = field(default=SKILLS)

    def level(self, level_id: str | None) -> Level | None:
        return next((lv for lv in self.levels if lv.id == level_id), None)

    def above(self, level_id: str | None) -> Level | None:
        """The next level up (the default target), or None at the top or when unknown."""
        ids = [lv.id for lv in self.levels]
        if level_id not in ids:
            return None
        index = ids.index(level_id) + 1
        return self.levels[index] if index < len(ids) else None

    def level_for_title(self, title: str | None) -> Level | None:
        """The level a job title names: an exact title, else the longest title it contains."""
        if not title:
            return None
        wanted = " ".join(title.lower().split())
        best: tuple[int, Level] | None = None
        for level in self.levels:
            for known in level.titles:
                if known == wanted:
                    return level
                if re.search(rf"\b{re.escape(known)}\b", wanted) and (
                    best is None or len(known) > best[0]
                ):
                    best = (len(known), level)
        return best[1] if best else None

    @classmethod
    def create(
        cls, *, id: str, name: str, levels: list[Level], version: int = 0, built_in: bool = False
    ) -> Ladder:
        """A ladder whose levels are valid: unique ids, every skill rated 1-5 at every level."""
        if not LEVEL_ID.match(id):
            raise InvalidInput("a ladder id is lowercase letters, digits, '-' and '_'")
        if not name.strip() or len(name) > 200:
            raise InvalidInput("a ladder needs a name of at most 200 characters")
        if not levels or len(levels) > MAX_LEVELS:
            raise InvalidInput(f"a ladder has 1 to {MAX_LEVELS} levels")
        ids = [lv.id for lv in levels]
        if len(set(ids)) != len(ids):
            raise RuleNotMet("level ids must not repeat")
        skills = list(levels[0].expectations)
        if not skills or len(skills) > MAX_SKILLS:
            raise InvalidInput(f"a level expects 1 to {MAX_SKILLS} skills")
        for level in levels:
            if not LEVEL_ID.match(level.id):
                raise InvalidInput(f"level id {level.id!r} must be lowercase letters and digits")
            if set(level.expectations) != set(skills):
                raise RuleNotMet(f"level {level.id} must rate the same skills as the others")
            for skill, expected in level.expectations.items():
                if not SKILL_ID.match(skill):
                    raise InvalidInput(f"skill id {skill!r} must be lowercase letters, digits, _")
                if isinstance(expected, bool) or not 1 <= expected <= 5:
                    raise InvalidInput(f"{level.id}.{skill}: expected level is 1 to 5")
            if len(level.titles) > MAX_TITLES:
                raise InvalidInput(f"a level maps at most {MAX_TITLES} titles")
        normalized = [
            Level(
                lv.id,
                lv.name,
                dict(lv.expectations),
                tuple(" ".join(t.lower().split()) for t in lv.titles if t.strip()),
            )
            for lv in levels
        ]
        return cls(id, name.strip(), tuple(normalized), built_in, version, tuple(skills))


def _level(id: str, name: str, values: tuple[int, ...], titles: tuple[str, ...]) -> Level:
    return Level(id, name, dict(zip(SKILLS, values, strict=True)), titles)


# expected levels in SKILLS order: communication, data, leadership, customer, industry, UX
BUILT_IN_LADDER = Ladder(
    id=PRODUCT_MANAGEMENT,
    name="Product management",
    built_in=True,
    levels=(
        _level(
            "associate_pm",
            "Associate PM",
            (2, 2, 1, 2, 1, 2),
            ("associate product manager", "associate pm", "apm"),
        ),
        _level("pm", "PM", (3, 3, 2, 3, 2, 3), ("product manager", "pm")),
        _level(
            "senior_pm",
            "Senior PM",
            (4, 4, 3, 4, 3, 3),
            ("senior product manager", "senior pm", "sr. product manager", "sr product manager"),
        ),
        _level(
            "group_pm",
            "Group PM",
            (4, 4, 4, 4, 4, 3),
            ("group product manager", "group pm", "principal product manager", "lead pm"),
        ),
        _level(
            "director_of_product",
            "Director of Product",
            (5, 4, 5, 5, 4, 3),
            ("director of product", "product director", "director, product", "head of product"),
        ),
    ),
)
