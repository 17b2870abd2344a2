"""Request and response models of the reviews API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from services.reviews.ladders import LEVEL_ID
from shared.schemas import KEYS_BY_PATTERN, MapKey, Strict, whole_number

# not blank: the pattern says in the schema what stripping whitespace does here
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"\S")
]
Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
SkillId = Annotated[MapKey, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
# one pattern for the schema (bodies and the ladder id in the path) and the domain's check
LEVEL_ID_PATTERN = LEVEL_ID.pattern
LevelId = Annotated[str, StringConstraints(pattern=LEVEL_ID_PATTERN)]
# strict ints that take 3.0 as JSON Schema's `integer` does (never "3" or true); the bounds come
# before the validator so that the schema shows them
WHOLE = BeforeValidator(whole_number)
Rating = Annotated[int, Field(ge=1, le=5, strict=True), WHOLE]
# the tenant's overall scale (REVIEWS_RATING_SCALE, 5 by default) is configured, not in the schema
OverallRating = Annotated[
    int,
    Field(
        ge=1,
        le=100,
        strict=True,
        description="1 to the tenant's rating scale (5 by default); above it is a `rule-not-met` "
        "422",
    ),
    WHOLE,
]
Ratings = Annotated[dict[SkillId, Rating], KEYS_BY_PATTERN, Field(max_length=20)]
Text = Annotated[str, StringConstraints(max_length=10_000)]


# ---------------------------------------------------------------------- career


class LevelIn(Strict):
    id: LevelId
    name: Name
    expectations: Ratings = Field(min_length=1)
    titles: list[Name] = Field(default_factory=list, max_length=20)


class LadderIn(Strict):
    name: Name
    levels: list[LevelIn] = Field(
        min_length=1,
        max_length=20,
        # rules between items JSON Schema cannot say; breaking one is a `rule-not-met` 422
        description="Level ids do not repeat; every level rates the same skills.",
    )
    # the version read before editing: a concurrent edit is a 409 (omit to overwrite)
    version: Annotated[int, Field(ge=0, strict=True), WHOLE] | None = None


class LevelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    expectations: dict[str, int]
    titles: list[str]


class LadderPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    built_in: bool
    version: int
    skills: list[str]
    levels: list[LevelPublic]


class CurrentLevelIn(Strict):
    level: LevelId
    ladder_id: LevelId | None = None


class TargetLevelIn(Strict):
    level: LevelId | None = None  # None: the level above the current one


class CareerLevelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    person_id: str
    ladder_id: str
    current_level: str | None
    current_source: Literal["hr", "manager", "title"] | None
    target_level: str | None
    updated_at: datetime | None


class GoalRefPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    goal_id: str
    title: str
    status: str
    progress: float


class SkillGapPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    skill: str
    expected: int
    self_rating: int | None
    manager_rating: int | None
    feedback_average: float | None
    feedback_count: int
    observed: float | None
    gap: float | None
    goals: list[GoalRefPublic]
    suggested_templates: list[str]


class GapAnalysisPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    person_id: str
    ladder_id: str
    current_level: str | None
    target_level: str | None
    skills: list[SkillGapPublic]
    suggested_templates: list[str]


# ---------------------------------------------------------------------- cycles


class EveryoneIn(Strict):
    kind: Literal["everyone"]
    value: None = None  # names nobody: said in the schema, not only by the domain


class NamedPopulationIn(Strict):
    kind: Literal["department", "group"]
    value: Name  # the department, or the SCIM group id


# a department or group names it, everyone names none: a union on `kind` says so in the schema
PopulationIn = Annotated[EveryoneIn | NamedPopulationIn, Field(discriminator="kind")]


class DeadlinesIn(Strict):
    self_review: date
    peer_feedback: date
    manager_review: date
    calibration: date
    release: date


# rules between fields JSON Schema cannot say, told here; breaking one is a `rule-not-met` 422
PERIOD_RULES = (
    "The period starts on or after 2000-01-01, ends by 2999-12-31 and lasts at most 3 years."
)
DEADLINE_RULES = (
    "Each deadline falls between the period's start and 3 years after its end; self_review and "
    "peer_feedback come no later than manager_review, then calibration, then release."
)


class CycleCreate(Strict):
    name: Name
    period_start: date = Field(description=PERIOD_RULES)
    period_end: date = Field(description="On or after `period_start`. " + PERIOD_RULES)
    population: PopulationIn
    deadlines: DeadlinesIn = Field(description=DEADLINE_RULES)


class CyclePublic(BaseModel):
    id: str
    name: str
    period_start: date
    period_end: date
    population: PopulationIn
    deadlines: DeadlinesIn
    status: Literal["draft", "launched", "released"]
    review_count: int
    created_by: str
    created_at: datetime
    launched_at: datetime | None
    calibration_closed_at: datetime | None
    released_at: datetime | None
    progress: dict[str, int] | None = None


class ReleaseResult(BaseModel):
    released: int
    without_manager_review: int


class CalibrationRow(BaseModel):
    review_id: str
    person_id: str
    name: str | None
    department: str | None
    manager_id: str | None
    manager_rating: int | None
    final_rating: int | None
    adjustments: int


class CalibrationPublic(BaseModel):
    cycle_id: str
    scale: int
    overall: dict[str, int]
    by_department: dict[str, dict[str, int]]
    by_team: dict[str, dict[str, int]]
    reviews: list[CalibrationRow]


# ---------------------------------------------------------------------- reviews


RATINGS_RULE = (
    "One rating per skill of the person's career ladder; another skill is a `rule-not-met` 422."
)


class SelfReviewIn(Strict):
    ratings: Ratings = Field(description=RATINGS_RULE)
    goal_comments: Annotated[
        dict[Annotated[MapKey, StringConstraints(max_length=128)], Text], KEYS_BY_PATTERN
    ] = Field(default_factory=dict, max_length=100)
    comments: Text | None = None


class PeersIn(Strict):
    peer_ids: list[Id] = Field(min_length=1, max_length=50)


class PeerApprovalIn(Strict):
    approved_peer_ids: list[Id] | None = Field(None, max_length=50)  # None: all nominated


class ManagerReviewIn(Strict):
    ratings: Ratings = Field(description=RATINGS_RULE)
    overall_rating: OverallRating
    summary: Annotated[str, StringConstraints(min_length=1, max_length=10_000, pattern=r"\S")]


class CalibrationIn(Strict):
    rating: OverallRating
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=r"\S")
    ]


class SelfReviewPublic(BaseModel):
    ratings: dict[str, int]
    goal_comments: dict[str, str]
    comments: str | None
    submitted_at: datetime


class ManagerReviewPublic(BaseModel):
    ratings: dict[str, int]
    overall_rating: int
    summary: str
    submitted_at: datetime


class AdjustmentPublic(BaseModel):
    old_rating: int | None
    new_rating: int
    reason: str
    by: str
    at: datetime


class ReviewPublic(BaseModel):
    id: str
    cycle_id: str
    cycle_name: str
    person_id: str
    manager_id: str | None
    department: str | None
    period_start: date
    period_end: date
    deadlines: dict[str, date]
    steps: dict[str, bool]
    self_review: SelfReviewPublic | None
    nominated_peers: list[str]
    approved_peers: list[str] | None
    manager_review: ManagerReviewPublic | None  # the person sees it once released
    final_rating: int | None
    calibration: list[AdjustmentPublic] | None  # managers and HR only
    released_at: datetime | None
    acknowledged_at: datetime | None


class PacketPublic(BaseModel):
    review_id: str
    person_id: str
    period_start: date
    period_end: date
    goals: list[dict[str, Any]]
    achievements: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    praise: list[dict[str, Any]]
    check_in_count: int
