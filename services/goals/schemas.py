"""Request and response models of the goals API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from shared.schemas import KEYS_BY_PATTERN, MapKey, Strict, whole_number

# not blank: the pattern says in the schema what stripping whitespace does here
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"\S")
]
Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
# a key result id is a map key of the stored goal: no leading `$`, no `.` or NUL
KeyResultId = Annotated[MapKey, StringConstraints(max_length=128)]
# a KPI filter names a dimension and is stored as a map key too
FilterKey = Annotated[MapKey, StringConstraints(strip_whitespace=True)]
Text = Annotated[str, StringConstraints(max_length=5000)]
Horizon = Literal["short_term", "long_term"]
Category = Literal["skill", "career", "outcome"]
Visibility = Literal["private", "team", "company"]
# a rule JSON Schema cannot say, told in the description; breaking it is a `rule-not-met` 422
DueDate = Annotated[date, Field(description="After `start_date` when both are set.")]
Number = Annotated[float, Field(strict=True)]
# an optional field that may not be null: None stays its Python default, the schema omits null
NotNull = SkipJsonSchema[None]


class KpiBindingIn(Strict):
    model_config = ConfigDict(from_attributes=True)

    metric: Name
    filters: Annotated[dict[FilterKey, Name], KEYS_BY_PATTERN] = Field(
        default_factory=dict, max_length=20
    )
    aggregation: Literal["latest", "sum"] = "latest"


class KpiSourceIn(Strict):
    kpi: KpiBindingIn


class KeyResultIn(Strict):
    id: KeyResultId | None = None
    title: Name
    # strict: a number, not "3" or true
    start: Number = 0.0
    target: Annotated[
        float,
        Field(
            strict=True,
            description="Not `start`: above it for `increase`, below it for `decrease`.",
        ),
    ]
    current: Number | None = None  # defaults to start
    unit: Annotated[str, StringConstraints(max_length=50)] = ""
    direction: Literal["increase", "decrease"] = "increase"
    weight: float = Field(1.0, gt=0, le=1000, strict=True)
    source: Literal["manual"] | KpiSourceIn = "manual"


class KeyResultPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    start: float
    target: float
    current: float
    unit: str
    direction: str
    weight: float
    source: Literal["manual"] | KpiSourceIn = Field(validation_alias="kpi")
    progress: float

    @field_validator("source", mode="before")
    @classmethod
    def _source_of(cls, kpi: Any) -> Any:
        """The key result's KPI binding, or "manual" when people move it by hand."""
        return "manual" if kpi is None else {"kpi": kpi}


class CheckpointIn(Strict):
    model_config = ConfigDict(from_attributes=True)

    label: Name
    due_on: date
    progress: float = Field(gt=0, le=1)


class GoalCreate(Strict):
    # the rule of the validator below, in the schema: a title and a horizon, or a template
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["template_id"], "properties": {"template_id": {"type": "string"}}},
                {
                    "required": ["title", "horizon"],
                    "properties": {"title": {"type": "string"}, "horizon": {"type": "string"}},
                },
            ]
        }
    )

    template_id: Id | None = None
    title: Name | None = None
    description: Text | None = None
    horizon: Horizon | None = None
    category: Category | None = None
    skills: list[Name] | None = Field(None, max_length=20)
    owner_id: Id | None = None
    parent_id: Id | None = None
    start_date: date | None = None
    due_date: DueDate | None = None
    visibility: Visibility = "team"
    status: Literal["draft", "active"] = "draft"
    review_every_days: int | None = Field(None, ge=1, le=3650)
    key_results: list[KeyResultIn] | None = Field(None, max_length=20)
    checkpoints: list[CheckpointIn] = Field(default_factory=list, max_length=20)
    feedback_reviewer_ids: list[Id] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _title_or_template(self) -> GoalCreate:
        if self.template_id is None and (self.title is None or self.horizon is None):
            raise ValueError("title and horizon are required unless a template_id is given")
        return self


class GoalUpdate(Strict):
    # `NotNull` fields may be left out but not set to null (the validator below): the schema
    # says so by leaving null out of their type (constraints go inside: None has no length)
    title: Name | NotNull = None
    description: Text | None = None
    category: Category | NotNull = None
    skills: Annotated[list[Name], Field(max_length=20)] | NotNull = None
    parent_id: Id | None = None
    start_date: date | None = None
    due_date: DueDate | None = None
    visibility: Visibility | NotNull = None
    review_every_days: int | None = Field(None, ge=1, le=3650)
    key_results: Annotated[list[KeyResultIn], Field(max_length=20)] | NotNull = None
    checkpoints: list[CheckpointIn] | None = Field(None, max_length=20)
    feedback_reviewer_ids: list[Id] | None = Field(None, max_length=50)

    @model_validator(mode="after")
    def _no_nulls_for_required(self) -> GoalUpdate:
        for name in ("title", "category", "visibility", "skills", "key_results"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class StatusChange(Strict):
    status: Literal["active", "achieved", "abandoned"]


class LearningActivity(Strict):
    kind: Literal["course", "workshop", "event", "mentoring_session"]
    title: Name
    hours: float | None = Field(None, ge=0, le=1000)
    url: Annotated[str, StringConstraints(max_length=2000)] | None = None
    completed_on: date | None = None


class CheckInCreate(Strict):
    # the rule of the validator below, in the schema: at least one of them, with a value
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["key_results"], "properties": {"key_results": {"minProperties": 1}}},
                {"required": ["confidence"], "properties": {"confidence": {"type": "number"}}},
                {"required": ["note"], "properties": {"note": {"type": "string", "minLength": 1}}},
                {
                    "required": ["learning_activity"],
                    "properties": {"learning_activity": {"type": "object"}},
                },
            ]
        }
    )

    key_results: Annotated[dict[KeyResultId, float], KEYS_BY_PATTERN] = Field(
        default_factory=dict, max_length=20
    )
    confidence: float | None = Field(None, ge=0, le=1)
    note: Annotated[str, StringConstraints(max_length=5000)] | None = None
    learning_activity: LearningActivity | None = None

    @model_validator(mode="after")
    def _something(self) -> CheckInCreate:
        if not (
            self.key_results or self.note or self.learning_activity or self.confidence is not None
        ):
            raise ValueError(
                "a check-in needs key-result values, a confidence, a note or an activity"
            )
        return self


class ReviewDone(Strict):
    note: Annotated[str, StringConstraints(max_length=5000)] | None = None


class CheckInPublic(BaseModel):
    check_in_id: str
    goal: GoalPublic


class GoalPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_id: str
    title: str
    description: str
    horizon: Horizon
    category: Category
    skills: list[str]
    parent_id: str | None
    start_date: date | None
    due_date: date | None
    visibility: Visibility
    review_every_days: int | None
    key_results: list[KeyResultPublic]
    checkpoints: list[CheckpointIn]
    feedback_reviewer_ids: list[str]
    status: str
    progress: float
    milestones_reached: list[str]
    at_risk: bool
    # the last check-in, KPI movement or activation (None: never active)
    last_activity_at: datetime | None = None
    next_review_on: date | None
    review_pending: str | None
    review_due_on: date | None
    bound_metrics: list[str]
    template_id: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    @field_validator("key_results", mode="before")
    @classmethod
    def _listed(cls, key_results: Any) -> Any:
        """The domain keeps key results by id; the API lists them in the order they were added."""
        return list(key_results.values()) if isinstance(key_results, dict) else key_results


class GoalTree(BaseModel):
    goal: GoalBrief
    children: list[GoalTree] = []


class GoalBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_id: str
    title: str
    horizon: str
    status: str
    progress: float
    at_risk: bool
    parent_id: str | None = None


class GoalTreePublic(BaseModel):
    ancestors: list[GoalBrief]
    tree: GoalTree


class GoalSummary(BaseModel):
    person_id: str
    short_term: list[GoalBrief]
    long_term: list[GoalBrief]
    at_risk: int
    active: int


class TimelineEntryPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    at: datetime
    kind: str


class TemplateCreate(Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    title: Name
    horizon: Horizon
    category: Category = "skill"
    description: Text = ""
    skills: list[Name] = Field(default_factory=list, max_length=20)
    suggested_key_results: list[KeyResultIn] = Field(default_factory=list, max_length=20)
    review_every_days: int | None = Field(None, ge=1, le=3650)


class TemplatePublic(BaseModel):
    id: str
    title: str
    horizon: Horizon
    category: Category
    description: str
    skills: list[str]
    suggested_key_results: list[dict[str, Any]]
    review_every_days: int | None
    builtin: bool


ReminderDays = Annotated[int, Field(ge=1, le=90, strict=True), BeforeValidator(whole_number)]


class GoalSettingsPublic(Strict):
    at_risk_margin: float = Field(ge=0, le=1, strict=True)
    # N of the weekly "update your key results" nudge (days without check-in or KPI movement)
    update_reminder_days: ReminderDays


class GoalSettingsUpdate(Strict):
    """The settings to change; a field left out keeps its value."""

    # left out keeps the value; null is refused (the validator below), so the schema leaves it out
    at_risk_margin: Annotated[float, Field(ge=0, le=1, strict=True)] | NotNull = None
    update_reminder_days: ReminderDays | NotNull = None

    @model_validator(mode="after")
    def _no_nulls(self) -> GoalSettingsUpdate:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null (leave a field out to keep it)")
        return self


GoalTree.model_rebuild()
CheckInPublic.model_rebuild()
