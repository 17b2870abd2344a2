"""The stored shape of people, groups and mentorships, and its mapping to the domain.

A person or group document holds the fields we query, each lowercased where SCIM compares
without case, beside its SCIM representation as a JSON string (``scim``: SCIM attribute names
such as ``$ref`` and the enterprise URN are not valid field names in every document store).
The SCIM copy lets SCIM reads return what the identity provider sent, attributes Northstar
does not use included; facts written by another source are written onto it too
(``protocol.stored_user``), so it never disagrees with the queried fields. This is the shape
documents have always had, so data of a running deployment reads unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from services.people.domain import (
    Group,
    GroupFacts,
    Mentorship,
    MentorshipStatus,
    Person,
    PersonFacts,
)
from shared.mongo import Document


@dataclass(frozen=True)
class StoredPerson:
    """A person with the SCIM copy the SCIM endpoints render."""

    person: Person
    scim: str


@dataclass(frozen=True)
class StoredGroup:
    group: Group
    scim: str


def _fold(value: str | None) -> str | None:
    return value.lower() if value else None


def person_fields(facts: PersonFacts) -> Document:
    return {
        "user_name": facts.user_name,
        "user_name_key": facts.user_name.lower(),
        "external_id": facts.external_id,
        "display_name": facts.display_name,
        "display_name_key": _fold(facts.display_name),
        "given_name": facts.given_name,
        "given_name_key": _fold(facts.given_name),
        "family_name": facts.family_name,
        "family_name_key": _fold(facts.family_name),
        "emails": list(facts.emails),
        "email_keys": [e.lower() for e in facts.emails],
        "email": facts.email,
        "title": facts.title,
        "title_key": _fold(facts.title),
        "department": facts.department,
        "department_key": _fold(facts.department),
        "employee_number": facts.employee_number,
        "employee_number_key": _fold(facts.employee_number),
        "manager_id": facts.manager_id,
        "time_zone": facts.time_zone,
        "locale": facts.locale,
        "active": facts.active,
    }


def email_types(scim: str) -> list[str]:
    """The e-mail types of a SCIM copy (SCIM filters on ``emails.type``)."""
    emails = orjson.loads(scim).get("emails") or []
    return sorted({str(e["type"]).lower() for e in emails if isinstance(e, dict) and e.get("type")})


def person_document(person: Person, scim: str) -> Document:
    return {
        "_id": person.id,
        "tenant": person.tenant,
        "version": person.version,
        "created": person.created,
        "last_modified": person.last_modified,
        "scim": scim,
        **person_fields(person.facts),
        "email_types": email_types(scim),
    }


def person_from(doc: Document) -> Person:
    facts = PersonFacts(
        user_name=doc["user_name"],
        external_id=doc.get("external_id"),
        display_name=doc.get("display_name"),
        given_name=doc.get("given_name"),
        family_name=doc.get("family_name"),
        emails=tuple(doc.get("emails") or ()),
        email=doc.get("email"),
        title=doc.get("title"),
        department=doc.get("department"),
        employee_number=doc.get("employee_number"),
        manager_id=doc.get("manager_id"),
        time_zone=doc.get("time_zone"),
        locale=doc.get("locale"),
        active=doc.get("active", True),
    )
    return Person(
        doc["_id"], doc["tenant"], doc["version"], facts, doc["created"], doc["last_modified"]
    )


def group_fields(facts: GroupFacts) -> Document:
    return {
        "display_name": facts.display_name,
        "display_name_key": facts.display_name.lower(),
        "external_id": facts.external_id,
        "member_ids": list(facts.member_ids),
    }


def group_document(group: Group, scim: str) -> Document:
    return {
        "_id": group.id,
        "tenant": group.tenant,
        "version": group.version,
        "created": group.created,
        "last_modified": group.last_modified,
        "scim": scim,
        **group_fields(group.facts),
    }


def group_from(doc: Document) -> Group:
    facts = GroupFacts(
        display_name=doc["display_name"],
        external_id=doc.get("external_id"),
        member_ids=tuple(doc.get("member_ids") or ()),
    )
    return Group(
        doc["_id"], doc["tenant"], doc["version"], facts, doc["created"], doc["last_modified"]
    )


def mentorship_document(mentorship: Mentorship) -> Document:
    return {
        "_id": mentorship.id,
        "tenant": mentorship.tenant,
        "version": mentorship.version,
        "mentor_id": mentorship.mentor_id,
        "mentee_id": mentorship.mentee_id,
        "focus_skills": mentorship.focus_skills,
        "status": mentorship.status,
        "active": mentorship.active,  # what the mentor/mentee lists query
        "active_key": mentorship_key(mentorship),
    }


def mentorship_key(mentorship: Mentorship) -> str:
    """Unique while pending or active: the same pair cannot be requested or started twice;
    once declined or ended the pair is free again (no NUL: PostgreSQL)."""
    if mentorship.status in ("pending", "active"):
        return f"{mentorship.mentor_id}\x1f{mentorship.mentee_id}"
    return f"\x1f{mentorship.status}:{mentorship.id}"


def mentorship_from(doc: Document) -> Mentorship:
    # documents from before the pending state carry only ``active``
    status: MentorshipStatus = doc.get("status") or (
        "active" if doc.get("active", True) else "ended"
    )
    return Mentorship(
        id=doc["_id"],
        tenant=doc["tenant"],
        mentor_id=doc["mentor_id"],
        mentee_id=doc["mentee_id"],
        focus_skills=list(doc.get("focus_skills") or []),
        status=status,
        version=doc.get("version", 1),
    )
