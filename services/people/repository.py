"""Every document-store query of the people service, and the document <-> domain mapping.

A person or group keeps its SCIM representation as a JSON string (SCIM attribute names such as
``$ref`` and the enterprise URN are not valid field names in every document store) beside the
fields we query, each lowercased where SCIM compares without case. Deleting is soft: the
document stays, out of every read, so its outbox can still be relayed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import orjson
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.people.domain import GroupFacts, Mentorship, PersonFacts
from shared.errors import Conflict
from shared.events.envelope import Envelope
from shared.messaging.outbox import with_outbox
from shared.mongo import Document, update_versioned

PEOPLE = "people"
GROUPS = "groups"
MENTORSHIPS = "mentorships"
SCIM_TOKENS = "scim_tokens"

INDEXES: dict[str, list[IndexModel]] = {
    PEOPLE: [
        IndexModel([("tenant", ASCENDING), ("user_name_key", ASCENDING)], unique=True),
        IndexModel([("tenant", ASCENDING), ("external_id", ASCENDING)]),
        IndexModel([("tenant", ASCENDING), ("manager_id", ASCENDING)]),
        IndexModel([("tenant", ASCENDING), ("email_keys", ASCENDING)]),
        IndexModel([("tenant", ASCENDING), ("created", ASCENDING), ("_id", ASCENDING)]),
    ],
    GROUPS: [
        IndexModel([("tenant", ASCENDING), ("display_name_key", ASCENDING)]),
        IndexModel([("tenant", ASCENDING), ("member_ids", ASCENDING)]),
        IndexModel([("tenant", ASCENDING), ("created", ASCENDING), ("_id", ASCENDING)]),
    ],
    MENTORSHIPS: [
        IndexModel([("tenant", ASCENDING), ("active_key", ASCENDING)], unique=True),
        IndexModel([("tenant", ASCENDING), ("mentor_id", ASCENDING)]),
        IndexModel([("tenant", ASCENDING), ("mentee_id", ASCENDING)]),
    ],
    SCIM_TOKENS: [IndexModel([("tenant", ASCENDING), ("token_id", ASCENDING)], unique=True)],
}

LIVE = {"deleted": {"$ne": True}}
ORDER = [("created", ASCENDING), ("_id", ASCENDING)]


@dataclass(frozen=True)
class PersonRecord:
    id: str
    tenant: str
    version: int
    facts: PersonFacts
    scim: str
    created: datetime
    last_modified: datetime


@dataclass(frozen=True)
class GroupRecord:
    id: str
    tenant: str
    version: int
    facts: GroupFacts
    scim: str
    created: datetime
    last_modified: datetime


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


def _email_types(scim: str) -> list[str]:
    emails = orjson.loads(scim).get("emails") or []
    return sorted({str(e["type"]).lower() for e in emails if isinstance(e, dict) and e.get("type")})


def _person(doc: Document) -> PersonRecord:
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
    return PersonRecord(
        doc["_id"],
        doc["tenant"],
        doc["version"],
        facts,
        doc["scim"],
        doc["created"],
        doc["last_modified"],
    )


def _group_fields(facts: GroupFacts) -> Document:
    return {
        "display_name": facts.display_name,
        "display_name_key": facts.display_name.lower(),
        "external_id": facts.external_id,
        "member_ids": list(facts.member_ids),
    }


def _group(doc: Document) -> GroupRecord:
    facts = GroupFacts(
        display_name=doc["display_name"],
        external_id=doc.get("external_id"),
        member_ids=tuple(doc.get("member_ids") or ()),
    )
    return GroupRecord(
        doc["_id"],
        doc["tenant"],
        doc["version"],
        facts,
        doc["scim"],
        doc["created"],
        doc["last_modified"],
    )


class UserNameTaken(Conflict):
    code, title = "conflict", "The userName is taken"

    def __init__(self, user_name: str) -> None:
        super().__init__(
            f"userName {user_name!r} is already used in this tenant", scim_type="uniqueness"
        )


class PeopleRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.people: AsyncCollection[Document] = db[PEOPLE]
        self.groups: AsyncCollection[Document] = db[GROUPS]
        self.mentorships: AsyncCollection[Document] = db[MENTORSHIPS]
        self.tokens: AsyncCollection[Document] = db[SCIM_TOKENS]
        self.outboxes = (self.people, self.groups, self.mentorships)  # events ride in these

    # ------------------------------------------------------------------------ people

    async def insert_person(
        self,
        tenant: str,
        person_id: str,
        facts: PersonFacts,
        scim: str,
        events: list[Envelope],
        now: datetime,
    ) -> PersonRecord:
        doc = {
            "_id": person_id,
            "tenant": tenant,
            "version": 1,
            "created": now,
            "last_modified": now,
            "scim": scim,
            **person_fields(facts),
            "email_types": _email_types(scim),
            "pending_events": [e.to_document() for e in events],
        }
        try:
            await self.people.insert_one(doc)
        except DuplicateKeyError as exc:
            raise UserNameTaken(facts.user_name) from exc
        return _person(doc)

    async def update_person(
        self,
        record: PersonRecord,
        facts: PersonFacts,
        scim: str,
        events: list[Envelope],
        now: datetime,
        *,
        deleted: bool = False,
    ) -> None:
        fields = person_fields(facts)
        if deleted:  # frees the userName for a later user
            fields["user_name_key"] = f"\x1fdeleted:{record.id}"  # no NUL: PostgreSQL
            fields["deleted"] = True
        fields["email_types"] = _email_types(scim)
        update = with_outbox({"$set": {**fields, "scim": scim, "last_modified": now}}, events)
        try:
            await update_versioned(
                self.people, {"_id": record.id, "tenant": record.tenant}, record.version, update
            )
        except DuplicateKeyError as exc:
            raise UserNameTaken(facts.user_name) from exc

    async def get_person(self, tenant: str, person_id: str) -> PersonRecord | None:
        doc = await self.people.find_one({"_id": person_id, "tenant": tenant, **LIVE})
        return _person(doc) if doc else None

    async def people_by_ids(self, tenant: str, ids: list[str]) -> dict[str, PersonRecord]:
        cursor = self.people.find({"tenant": tenant, "_id": {"$in": ids}, **LIVE})
        return {doc["_id"]: _person(doc) async for doc in cursor}

    async def count_people(self, tenant: str, query: Document) -> int:
        return await self.people.count_documents({**query, "tenant": tenant, **LIVE})

    async def find_people(
        self, tenant: str, query: Document, skip: int = 0, limit: int | None = None
    ) -> list[PersonRecord]:
        cursor = self.people.find({**query, "tenant": tenant, **LIVE}).sort(ORDER).skip(skip)
        if limit is not None:
            cursor = cursor.limit(limit)
        return [_person(doc) async for doc in cursor]

    async def all_people(self, tenant: str) -> list[PersonRecord]:
        return await self.find_people(tenant, {})

    async def manager_chain(self, tenant: str, person_id: str, limit: int) -> list[str]:
        """The ids above a person, their manager first (stops at a loop or ``limit``)."""
        chain: list[str] = []
        current = await self.people.find_one(
            {"_id": person_id, "tenant": tenant, **LIVE}, {"manager_id": 1}
        )
        while current and current.get("manager_id") and len(chain) < limit:
            manager_id = current["manager_id"]
            if manager_id in chain or manager_id == person_id:
                break
            chain.append(manager_id)
            current = await self.people.find_one(
                {"_id": manager_id, "tenant": tenant, **LIVE}, {"manager_id": 1}
            )
        return chain

    async def reports_of(self, tenant: str, manager_ids: list[str]) -> list[PersonRecord]:
        return await self.find_people(tenant, {"manager_id": {"$in": manager_ids}})

    async def list_people(
        self,
        tenant: str,
        *,
        q: str | None,
        manager_id: str | None,
        department: str | None,
        active: bool | None,
        after: str | None,
        limit: int,
    ) -> list[PersonRecord]:
        query: Document = {"tenant": tenant, **LIVE}
        if q:
            prefix = {"$regex": "^" + re.escape(q.lower())}
            query["$or"] = [
                {"display_name_key": prefix},
                {"user_name_key": prefix},
                {"email_keys": prefix},
                {"family_name_key": prefix},
            ]
        if manager_id:
            query["manager_id"] = manager_id
        if department:
            query["department_key"] = department.lower()
        if active is not None:
            query["active"] = active
        if after:
            query["_id"] = {"$gt": after}
        cursor = self.people.find(query).sort("_id", ASCENDING).limit(limit)
        return [_person(doc) async for doc in cursor]

    # ------------------------------------------------------------------------ groups

    async def insert_group(
        self,
        tenant: str,
        group_id: str,
        facts: GroupFacts,
        scim: str,
        events: list[Envelope],
        now: datetime,
    ) -> GroupRecord:
        doc = {
            "_id": group_id,
            "tenant": tenant,
            "version": 1,
            "created": now,
            "last_modified": now,
            "scim": scim,
            **_group_fields(facts),
            "pending_events": [e.to_document() for e in events],
        }
        await self.groups.insert_one(doc)
        return _group(doc)

    async def update_group(
        self,
        record: GroupRecord,
        facts: GroupFacts,
        scim: str,
        events: list[Envelope],
        now: datetime,
        *,
        deleted: bool = False,
    ) -> None:
        fields = _group_fields(facts)
        if deleted:
            fields["deleted"] = True
        update = with_outbox({"$set": {**fields, "scim": scim, "last_modified": now}}, events)
        await update_versioned(
            self.groups, {"_id": record.id, "tenant": record.tenant}, record.version, update
        )

    async def get_group(self, tenant: str, group_id: str) -> GroupRecord | None:
        doc = await self.groups.find_one({"_id": group_id, "tenant": tenant, **LIVE})
        return _group(doc) if doc else None

    async def count_groups(self, tenant: str, query: Document) -> int:
        return await self.groups.count_documents({**query, "tenant": tenant, **LIVE})

    async def find_groups(
        self, tenant: str, query: Document, skip: int = 0, limit: int | None = None
    ) -> list[GroupRecord]:
        cursor = self.groups.find({**query, "tenant": tenant, **LIVE}).sort(ORDER).skip(skip)
        if limit is not None:
            cursor = cursor.limit(limit)
        return [_group(doc) async for doc in cursor]

    async def groups_of(self, tenant: str, member_ids: list[str]) -> dict[str, list[GroupRecord]]:
        """member id -> the groups that list it."""
        found: dict[str, list[GroupRecord]] = {}
        cursor = self.groups.find({"tenant": tenant, "member_ids": {"$in": member_ids}, **LIVE})
        async for doc in cursor:
            group = _group(doc)
            for member in group.facts.member_ids:
                found.setdefault(member, []).append(group)
        return found

    # ------------------------------------------------------------------- mentorships

    async def insert_mentorship(self, mentorship: Mentorship, events: list[Envelope]) -> None:
        doc = {
            "_id": mentorship.id,
            "tenant": mentorship.tenant,
            "version": mentorship.version,
            "mentor_id": mentorship.mentor_id,
            "mentee_id": mentorship.mentee_id,
            "focus_skills": mentorship.focus_skills,
            "active": True,
            # unique while active: the same pair cannot be started twice
            "active_key": f"{mentorship.mentor_id}\x1f{mentorship.mentee_id}",
            "pending_events": [e.to_document() for e in events],
        }
        try:
            await self.mentorships.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict("this mentor already mentors this mentee") from exc

    async def get_mentorship(self, tenant: str, mentorship_id: str) -> Mentorship | None:
        doc = await self.mentorships.find_one({"_id": mentorship_id, "tenant": tenant})
        return _mentorship(doc) if doc else None

    async def end_mentorship(
        self, mentorship: Mentorship, events: list[Envelope], now: datetime
    ) -> None:
        update = with_outbox(
            {
                "$set": {
                    "active": False,
                    "active_key": f"\x1fended:{mentorship.id}",  # no NUL: PostgreSQL
                    "ended_at": now,
                }
            },
            events,
        )
        await update_versioned(
            self.mentorships,
            {"_id": mentorship.id, "tenant": mentorship.tenant},
            mentorship.version - 1,
            update,
        )

    async def mentorships_of(self, tenant: str, *, role: str, person_id: str) -> list[Mentorship]:
        field = "mentee_id" if role == "mentee" else "mentor_id"
        cursor = self.mentorships.find({"tenant": tenant, field: person_id, "active": True})
        return [_mentorship(doc) async for doc in cursor.sort("_id", ASCENDING)]

    # ----------------------------------------------------------------- SCIM tokens

    async def insert_token(self, doc: Document) -> None:
        await self.tokens.insert_one(doc)

    async def token_by_hash(self, digest: str) -> Document | None:
        return await self.tokens.find_one({"_id": digest, "revoked_at": None})

    async def revoke_token(self, tenant: str, token_id: str, now: datetime) -> bool:
        result = await self.tokens.update_one(
            {"tenant": tenant, "token_id": token_id, "revoked_at": None},
            {"$set": {"revoked_at": now}},
        )
        return result.matched_count == 1

    async def list_tokens(self, tenant: str) -> list[Document]:
        cursor = self.tokens.find({"tenant": tenant}, {"_id": 0}).sort("created_at", ASCENDING)
        return [doc async for doc in cursor]


def _mentorship(doc: Document) -> Mentorship:
    return Mentorship(
        id=doc["_id"],
        tenant=doc["tenant"],
        mentor_id=doc["mentor_id"],
        mentee_id=doc["mentee_id"],
        focus_skills=list(doc.get("focus_skills") or []),
        active=doc.get("active", True),
        version=doc.get("version", 1),
    )
