"""Every document-store query of the people service (the document shape: ``documents``).

Deleting is soft: the document stays, out of every read, so its outbox can still be relayed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.people.documents import (
    StoredGroup,
    StoredPerson,
    group_document,
    group_fields,
    group_from,
    mentorship_document,
    mentorship_from,
    mentorship_key,
    person_document,
    person_from,
)
from services.people.domain import Group, Mentorship, Person
from services.people.scim.filters import GROUP_FIELDS, USER_FIELDS, Field, Translation, translate
from services.people.scim.protocol import stored_user
from shared.errors import Conflict
from shared.events.envelope import Envelope
from shared.messaging.outbox import with_outbox
from shared.mongo import Document, update_versioned
from shared.orgchart import management_chain

T = TypeVar("T")

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
        # "which of these people are erased" (the reports projection asks it for every run of
        # goal events, the audit for its subjects): a tenant's erased people are few, so this
        # answers it without reading each person asked about (1.1 ms → 0.03 ms for 100 people on
        # the local store, where each read decompresses a person's whole document)
        IndexModel([("tenant", ASCENDING), ("erased", ASCENDING)]),
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
# a SCIM filter the store cannot answer exactly is checked on at most this many candidates
MAX_SCAN = 20_000
ORDER = [("created", ASCENDING), ("_id", ASCENDING)]


@dataclass(frozen=True)
class Matches(Generic[T]):
    """What a SCIM filter found: the total and one page when the store answered the filter
    exactly, else a superset of candidates (at most ``MAX_SCAN``) for the caller to filter."""

    exact: bool
    total: int
    items: list[T]


async def _matches(
    collection: AsyncCollection[Document],
    tenant: str,
    filter_text: str | None,
    fields: dict[tuple[str, str, str], Field],
    page: Callable[[Document, int, int], Awaitable[list[T]]],
    skip: int,
    limit: int,
) -> Matches[T]:
    translation = translate(filter_text, fields) if filter_text else Translation({}, True)
    query = {**translation.query, "tenant": tenant, **LIVE}
    if not translation.exact:
        candidates = await page(query, 0, MAX_SCAN)
        return Matches(False, len(candidates), candidates)
    total = await collection.count_documents(query)
    return Matches(True, total, await page(query, skip, limit) if limit else [])


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
        # events ride in these (a token carries the audit record of its issue and revocation)
        self.outboxes = (self.people, self.groups, self.mentorships, self.tokens)

    # ------------------------------------------------------------------------ people

    async def insert_person(
        self, person: Person, events: list[Envelope], scim: str | None = None
    ) -> None:
        """Store a new person; ``scim`` is the SCIM copy when a SCIM client sent the person."""
        doc = person_document(person, scim or stored_user(person.facts, None))
        doc["pending_events"] = [e.to_document() for e in events]
        try:
            await self.people.insert_one(doc)
        except DuplicateKeyError as exc:
            raise UserNameTaken(person.facts.user_name) from exc

    async def update_person(
        self,
        before: Person,
        after: Person,
        events: list[Envelope],
        scim: str | None = None,
        *,
        deleted: bool = False,
    ) -> None:
        """Store a change; without ``scim`` the facts are written onto the stored SCIM copy."""
        if scim is None:
            scim = stored_user(after.facts, await self._scim_copy(before))
        fields = person_document(after, scim)
        del fields["_id"], fields["tenant"], fields["version"], fields["created"]
        if deleted:  # frees the userName for a later user
            fields["user_name_key"] = f"\x1fdeleted:{before.id}"  # no NUL: PostgreSQL
            fields["deleted"] = True
        update = with_outbox({"$set": fields}, events)
        try:
            await update_versioned(
                self.people, {"_id": before.id, "tenant": before.tenant}, before.version, update
            )
        except DuplicateKeyError as exc:
            raise UserNameTaken(after.facts.user_name) from exc

    async def _scim_copy(self, person: Person) -> str | None:
        doc = await self.people.find_one({"_id": person.id, "tenant": person.tenant}, {"scim": 1})
        return doc.get("scim") if doc else None

    async def get_person(self, tenant: str, person_id: str) -> Person | None:
        doc = await self.people.find_one({"_id": person_id, "tenant": tenant, **LIVE})
        return person_from(doc) if doc else None

    async def by_reference(self, tenant: str, reference: str) -> Person | None:
        """The person an identity provider names: our id, else externalId, userName or
        employee number."""
        for query in (
            {"_id": reference},
            {"external_id": reference},
            {"user_name_key": reference.lower()},
            {"employee_number_key": reference.lower()},
        ):
            cursor = self.people.find({**query, "tenant": tenant, **LIVE}).sort(ORDER).limit(1)
            async for doc in cursor:
                return person_from(doc)
        return None

    async def people_by_ids(self, tenant: str, ids: list[str]) -> dict[str, Person]:
        cursor = self.people.find({"tenant": tenant, "_id": {"$in": ids}, **LIVE})
        return {doc["_id"]: person_from(doc) async for doc in cursor}

    async def everyone(self, tenant: str) -> list[Person]:
        cursor = self.people.find({"tenant": tenant, **LIVE}).sort(ORDER)
        return [person_from(doc) async for doc in cursor]

    async def manager_chain(self, tenant: str, person_id: str) -> list[str]:
        """The ids above a person, their manager first (stops at a loop)."""

        async def manager_of(pid: str) -> str | None:
            doc = await self.people.find_one(
                {"_id": pid, "tenant": tenant, **LIVE}, {"manager_id": 1}
            )
            return doc.get("manager_id") if doc else None

        return await management_chain(person_id, manager_of)

    async def reports_of(self, tenant: str, manager_ids: list[str]) -> list[Person]:
        query = {"tenant": tenant, "manager_id": {"$in": manager_ids}, **LIVE}
        return [person_from(doc) async for doc in self.people.find(query).sort(ORDER)]

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
    ) -> list[Person]:
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
        return [person_from(doc) async for doc in cursor]

    # ----------------------------------------------------------- people, as SCIM sees them

    async def scim_person(self, tenant: str, person_id: str) -> StoredPerson | None:
        doc = await self.people.find_one({"_id": person_id, "tenant": tenant, **LIVE})
        return StoredPerson(person_from(doc), doc["scim"]) if doc else None

    async def scim_people(
        self, tenant: str, filter_text: str | None, skip: int, limit: int
    ) -> Matches[StoredPerson]:
        """People matching a SCIM filter, oldest first."""

        async def page(query: Document, skip: int, limit: int) -> list[StoredPerson]:
            cursor = self.people.find(query).sort(ORDER).skip(skip).limit(limit)
            return [StoredPerson(person_from(doc), doc["scim"]) async for doc in cursor]

        return await _matches(self.people, tenant, filter_text, USER_FIELDS, page, skip, limit)

    # ------------------------------------------------------------------------ groups

    async def insert_group(self, group: Group, events: list[Envelope], scim: str) -> None:
        doc = group_document(group, scim)
        doc["pending_events"] = [e.to_document() for e in events]
        await self.groups.insert_one(doc)

    async def update_group(
        self,
        before: Group,
        after: Group,
        events: list[Envelope],
        scim: str | None,
        *,
        deleted: bool = False,
    ) -> None:
        """Store a change; without ``scim`` the stored SCIM copy stays as it is."""
        fields: Document = {**group_fields(after.facts), "last_modified": after.last_modified}
        if scim is not None:
            fields["scim"] = scim
        if deleted:
            fields["deleted"] = True
        update = with_outbox({"$set": fields}, events)
        await update_versioned(
            self.groups, {"_id": before.id, "tenant": before.tenant}, before.version, update
        )

    async def get_group(self, tenant: str, group_id: str) -> Group | None:
        doc = await self.groups.find_one({"_id": group_id, "tenant": tenant, **LIVE})
        return group_from(doc) if doc else None

    async def scim_group(self, tenant: str, group_id: str) -> StoredGroup | None:
        doc = await self.groups.find_one({"_id": group_id, "tenant": tenant, **LIVE})
        return StoredGroup(group_from(doc), doc["scim"]) if doc else None

    async def scim_groups(
        self, tenant: str, filter_text: str | None, skip: int, limit: int
    ) -> Matches[StoredGroup]:
        """Groups matching a SCIM filter, oldest first."""

        async def page(query: Document, skip: int, limit: int) -> list[StoredGroup]:
            cursor = self.groups.find(query).sort(ORDER).skip(skip).limit(limit)
            return [StoredGroup(group_from(doc), doc["scim"]) async for doc in cursor]

        return await _matches(self.groups, tenant, filter_text, GROUP_FIELDS, page, skip, limit)

    async def groups_of(self, tenant: str, member_ids: list[str]) -> dict[str, list[Group]]:
        """member id -> the groups that list it."""
        found: dict[str, list[Group]] = {}
        cursor = self.groups.find({"tenant": tenant, "member_ids": {"$in": member_ids}, **LIVE})
        async for doc in cursor:
            group = group_from(doc)
            for member in group.facts.member_ids:
                found.setdefault(member, []).append(group)
        return found

    # ------------------------------------------------------------------- mentorships

    async def insert_mentorship(self, mentorship: Mentorship, events: list[Envelope]) -> None:
        doc = mentorship_document(mentorship)
        doc["pending_events"] = [e.to_document() for e in events]
        try:
            await self.mentorships.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict("this mentor already mentors this mentee") from exc

    async def get_mentorship(self, tenant: str, mentorship_id: str) -> Mentorship | None:
        doc = await self.mentorships.find_one({"_id": mentorship_id, "tenant": tenant})
        return mentorship_from(doc) if doc else None

    async def save_mentorship(
        self, mentorship: Mentorship, events: list[Envelope], now: datetime
    ) -> None:
        """A transition (accepted, declined, ended) and its events, in one versioned update."""
        fields: Document = {
            "status": mentorship.status,
            "active": mentorship.active,
            "active_key": mentorship_key(mentorship),
            f"{mentorship.status}_at": now,
        }
        await update_versioned(
            self.mentorships,
            {"_id": mentorship.id, "tenant": mentorship.tenant},
            mentorship.version - 1,
            with_outbox({"$set": fields}, events),
        )

    async def mentorships_of(self, tenant: str, *, role: str, person_id: str) -> list[Mentorship]:
        field = "mentee_id" if role == "mentee" else "mentor_id"
        cursor = self.mentorships.find({"tenant": tenant, field: person_id, "active": True})
        return [mentorship_from(doc) async for doc in cursor.sort("_id", ASCENDING)]

    # ----------------------------------------------------------------- SCIM tokens

    async def insert_token(
        self,
        digest: str,
        *,
        tenant: str,
        token_id: str,
        name: str | None,
        created_by: str,
        created_at: datetime,
        events: list[Envelope] = [],  # noqa: B006 - never mutated
    ) -> None:
        await self.tokens.insert_one(
            {
                "_id": digest,
                "tenant": tenant,
                "token_id": token_id,
                "name": name,
                "created_by": created_by,
                "created_at": created_at,
                "revoked_at": None,
                "pending_events": [e.to_document() for e in events],
            }
        )

    async def token_by_hash(self, digest: str) -> Document | None:
        return await self.tokens.find_one({"_id": digest, "revoked_at": None})

    async def revoke_token(
        self,
        tenant: str,
        token_id: str,
        now: datetime,
        events: list[Envelope] = [],  # noqa: B006 - never mutated
    ) -> bool:
        result = await self.tokens.update_one(
            {"tenant": tenant, "token_id": token_id, "revoked_at": None},
            with_outbox({"$set": {"revoked_at": now}}, events),
        )
        return result.matched_count == 1

    async def list_tokens(self, tenant: str) -> list[Document]:
        cursor = self.tokens.find({"tenant": tenant}, {"_id": 0, "pending_events": 0}).sort(
            "created_at", ASCENDING
        )
        return [doc async for doc in cursor]
