"""Request and response models of the people API (JSON snake_case)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.people.domain import Mentorship, Person


class PersonPublic(BaseModel):
    id: str
    user_name: str
    display_name: str | None = None
    email: str | None = None
    emails: list[str] = []
    title: str | None = None
    department: str | None = None
    employee_number: str | None = None
    external_id: str | None = None
    manager_id: str | None = None
    time_zone: str | None = None
    locale: str | None = None
    active: bool = True

    @classmethod
    def of(cls, person: Person) -> PersonPublic:
        f = person.facts
        return cls(
            id=person.id,
            user_name=f.user_name,
            display_name=f.display_name,
            email=f.email,
            emails=list(f.emails),
            title=f.title,
            department=f.department,
            employee_number=f.employee_number,
            external_id=f.external_id,
            manager_id=f.manager_id,
            time_zone=f.time_zone,
            locale=f.locale,
            active=f.active,
        )


class ManagerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    manager_id: str | None = Field(None, max_length=200)


class MentorshipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mentor_id: str = Field(min_length=1, max_length=200)
    mentee_id: str = Field(min_length=1, max_length=200)
    focus_skills: list[str] = Field(default_factory=list, max_length=20)


class MentorshipPublic(BaseModel):
    id: str
    mentor_id: str
    mentee_id: str
    focus_skills: list[str]
    status: Literal["pending", "active", "declined", "ended"]
    active: bool

    @classmethod
    def of(cls, m: Mentorship) -> MentorshipPublic:
        return cls(
            id=m.id,
            mentor_id=m.mentor_id,
            mentee_id=m.mentee_id,
            focus_skills=m.focus_skills,
            status=m.status,
            active=m.active,
        )


class ScimTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=100)


class ScimTokenCreated(BaseModel):
    token_id: str
    token: str = Field(description="shown once; only its SHA-256 digest is stored")
    tenant: str
    name: str | None = None
    created_at: datetime
    scim_base_url: str


class ScimTokenPublic(BaseModel):
    token_id: str
    name: str | None = None
    created_by: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None


class ImportRequest(BaseModel):
    """An HRIS export: JSON ``rows`` or a ``csv`` text, and which column holds what."""

    # the route's rule in the schema: JSON rows for "json" (the default), a csv text for "csv"
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {
                    "properties": {"format": {"const": "json"}, "rows": {"type": "array"}},
                    "required": ["rows"],
                },
                {
                    "properties": {"format": {"const": "csv"}, "csv": {"type": "string"}},
                    "required": ["format", "csv"],
                },
            ]
        },
    )
    format: Literal["json", "csv"] = "json"
    rows: list[dict[str, Any]] | None = Field(
        None,
        description="each row needs the columns `mapping` names for employee_id and email; "
        "invalid rows refuse the import with a 422 `/problems/rule-not-met` that lists them",
    )
    csv: str | None = None
    mapping: dict[str, str | None] = Field(
        default_factory=dict,
        description="our field -> the export's column (defaults: docs/people.md#hris-import)",
    )
    deactivate_missing: bool = Field(
        True,
        strict=True,  # 0 is not false
        description="people missing from the export are deactivated (a full sync)",
    )

    @model_validator(mode="after")
    def _rows_or_csv(self) -> ImportRequest:
        if self.format == "csv" and self.csv is None:
            raise ValueError("format csv needs a csv text")
        if self.format == "json" and self.rows is None:
            raise ValueError("format json needs rows")
        return self
