"""Request and response models of the reviews API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from shared.schemas import KEYS_BY_PATTERN, MapKey, Strict

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
SkillId = Annotated[MapKey, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
LevelId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
Rating = Annotated[StrictInt, Field(ge=1, le=5)]
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
    levels: list[LevelIn] = Field(min_length=1, max_length=20)
    # the version read before editing: a concurrent edit is a 409 (omit to overwrite)
    version: int | None = Field(None, ge=0)


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


class PopulationIn(Strict):
    kind: Literal["everyone", "department", "group"]
    value: Name | None = None  # the department, or the SCIM group id


class DeadlinesIn(Strict):
    self_review: date
    peer_feedback: date
    manager_review: date
    calibration: date
    release: date


class CycleCreate(Strict):
    name: Name
    period_start: date
    period_end: date
    population: PopulationIn
    deadlines: DeadlinesIn


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


class SelfReviewIn(Strict):
    ratings: Ratings
    goal_comments: Annotated[
        dict[Annotated[MapKey, StringConstraints(max_length=128)], Text], KEYS_BY_PATTERN
    ] = Field(default_factory=dict, max_length=100)
    comments: Text | None = None


class PeersIn(Strict):
    peer_ids: list[Id] = Field(min_length=1, max_length=50)


class PeerApprovalIn(Strict):
    approved_peer_ids: list[Id] | None = Field(None, max_length=50)  # None: all nominated


class ManagerReviewIn(Strict):
    ratings: Ratings
    overall_rating: StrictInt = Field(ge=1, le=100)  # the tenant's scale is checked too
    summary: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class CalibrationIn(Strict):
    rating: StrictInt = Field(ge=1, le=100)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


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
