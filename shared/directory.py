"""A service's local projection of people and mentorships, built from ``person.*`` and
``mentorship.*`` events (DESIGN §3): names, emails, managers, mentors, time zones.

Each service keeps it in its own database; it can be rebuilt from scratch by consuming the
compacted people topic from the beginning with a new consumer group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.events.envelope import Envelope
from shared.events.people import (
    MentorshipEnded,
    MentorshipStarted,
    PersonDeactivated,
    PersonManagerChanged,
    PersonUpserted,
)
from shared.events.topics import PEOPLE
from shared.messaging.consumer import Router, Tombstone
from shared.orgchart import MAX_REPORTS, management_chain, reports

BULK_LOOKUP = 200  # ids above which one scan of the tenant beats a huge $in


@dataclass(frozen=True)
class Person:
    id: str
    tenant: str
    user_name: str
    display_name: str | None = None
    email: str | None = None
    title: str | None = None
    department: str | None = None
    manager_id: str | None = None
    time_zone: str | None = None
    locale: str | None = None
    active: bool = True

    @property
    def name(self) -> str:
        return self.display_name or self.user_name


def _key(tenant: str, entity_id: str) -> str:
    return f"{tenant}:{entity_id}"


class PeopleDirectory:
    """Read model of the org chart and mentorships for one service."""

    PEOPLE = "directory_people"
    MENTORSHIPS = "directory_mentorships"

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._people = db[self.PEOPLE]
        self._mentorships = db[self.MENTORSHIPS]

    @classmethod
    def indexes(cls) -> dict[str, list[IndexModel]]:
        return {
            cls.PEOPLE: [
                IndexModel([("tenant", ASCENDING), ("manager_id", ASCENDING)]),
                IndexModel([("tenant", ASCENDING), ("id", ASCENDING)], unique=True),
            ],
            cls.MENTORSHIPS: [
                IndexModel([("tenant", ASCENDING), ("mentee_id", ASCENDING)]),
                IndexModel([("tenant", ASCENDING), ("mentor_id", ASCENDING)]),
            ],
        }

    def register(self, router: Router) -> None:
        """Add the projection's handlers to a service's consumer router."""
        router.on(PersonUpserted)(self._on_person_upserted)
        router.on(PersonDeactivated)(self._on_person_deactivated)
        router.on(PersonManagerChanged)(self._on_manager_changed)
        router.on(MentorshipStarted)(self._on_mentorship_started)
        router.on(MentorshipEnded)(self._on_mentorship_ended)
        router.on_tombstone(PEOPLE)(self._on_tombstone)

    # ------------------------------------------------------------------ projection

    async def _on_person_upserted(self, event: Envelope, person: PersonUpserted) -> None:
        # events of one person share a partition, so a plain upsert keeps the latest state
        fields = person.model_dump(exclude={"created", "emails", "external_id", "employee_number"})
        await self._people.update_one(
            {"_id": _key(person.tenant, person.id)}, {"$set": fields}, upsert=True
        )

    async def _on_person_deactivated(self, event: Envelope, payload: PersonDeactivated) -> None:
        await self._people.update_one(
            {"_id": _key(payload.tenant, payload.id)}, {"$set": {"active": False}}
        )

    async def _on_manager_changed(self, event: Envelope, payload: PersonManagerChanged) -> None:
        await self._people.update_one(
            {"_id": _key(payload.tenant, payload.id)},
            {"$set": {"manager_id": payload.new_manager_id}},
        )

    async def _on_mentorship_started(self, event: Envelope, payload: MentorshipStarted) -> None:
        await self._mentorships.update_one(
            {"_id": _key(payload.tenant, payload.id)},
            {
                "$set": {
                    "tenant": payload.tenant,
                    "id": payload.id,
                    "mentor_id": payload.mentor_id,
                    "mentee_id": payload.mentee_id,
                    "focus_skills": payload.focus_skills,
                    "active": True,
                }
            },
            upsert=True,
        )

    async def _on_mentorship_ended(self, event: Envelope, payload: MentorshipEnded) -> None:
        await self._mentorships.update_one(
            {"_id": _key(payload.tenant, payload.id)}, {"$set": {"active": False}}
        )

    async def _on_tombstone(self, tombstone: Tombstone) -> None:
        # the key of a person or a mentorship whose records compaction will drop: a projection
        # rebuilt from the topic must end without them too (the key names one or the other)
        if tombstone.tenant is None:
            return  # not one of ours: every tombstone we write names its tenant
        await self._people.delete_one({"_id": _key(tombstone.tenant, tombstone.key)})
        await self._mentorships.delete_one({"_id": _key(tombstone.tenant, tombstone.key)})

    async def forget(self, tenant: str, person_id: str) -> None:
        """Erase a person from the projection: their entry and their mentorships (GDPR)."""
        await self._people.delete_one({"_id": _key(tenant, person_id)})
        for role in ("mentor_id", "mentee_id"):
            await self._mentorships.delete_many({"tenant": tenant, role: person_id})

    # ------------------------------------------------------------------ queries

    async def get(self, tenant: str, person_id: str) -> Person | None:
        doc = await self._people.find_one({"_id": _key(tenant, person_id)})
        return _person(doc) if doc else None

    async def many(self, tenant: str, person_ids: Sequence[str]) -> dict[str, Person]:
        wanted = set(person_ids)
        if len(wanted) <= BULK_LOOKUP:
            keys = [_key(tenant, pid) for pid in wanted]
            return {
                doc["id"]: _person(doc) async for doc in self._people.find({"_id": {"$in": keys}})
            }
        # a big fan-out: one scan of the tenant beats a huge $in on FerretDB
        return {
            doc["id"]: _person(doc)
            async for doc in self._people.find({"tenant": tenant})
            if doc["id"] in wanted
        }

    async def management_chain(self, tenant: str, person_id: str) -> list[str]:
        """The person's managers, nearest first (stops on a cycle)."""

        async def manager_of(pid: str) -> str | None:
            person = await self.get(tenant, pid)
            return person.manager_id if person else None

        return await management_chain(person_id, manager_of)

    async def manages(self, tenant: str, manager_id: str, person_id: str) -> bool:
        """True when ``manager_id`` is anywhere in ``person_id``'s management chain."""
        return manager_id in await self.management_chain(tenant, person_id)

    async def direct_reports(self, tenant: str, manager_id: str) -> list[Person]:
        return await self._reports_of(tenant, [manager_id])

    async def all_reports(self, tenant: str, manager_id: str) -> list[str]:
        """The ids of the active people anywhere below a manager."""
        below = await reports(manager_id, lambda level: self._reports_of(tenant, level))
        return [person.id for person in below]

    async def members(
        self, tenant: str, *, department: str | None = None, limit: int = MAX_REPORTS
    ) -> list[Person]:
        """The active people of a tenant (of one department when given), by id."""
        query: dict[str, Any] = {"tenant": tenant, "active": True}
        if department is not None:
            query["department"] = department
        cursor = self._people.find(query).sort("id", ASCENDING).limit(limit)
        return [_person(doc) async for doc in cursor]

    async def _reports_of(self, tenant: str, manager_ids: list[str]) -> list[Person]:
        query = {"tenant": tenant, "manager_id": {"$in": manager_ids}, "active": True}
        return [_person(doc) async for doc in self._people.find(query)]

    async def mentors_of(self, tenant: str, mentee_id: str) -> list[str]:
        return [
            doc["mentor_id"]
            async for doc in self._mentorships.find(
                {"tenant": tenant, "mentee_id": mentee_id, "active": True}
            )
        ]

    async def mentees_of(self, tenant: str, mentor_id: str) -> list[str]:
        return [
            doc["mentee_id"]
            async for doc in self._mentorships.find(
                {"tenant": tenant, "mentor_id": mentor_id, "active": True}
            )
        ]


def _person(doc: dict[str, Any]) -> Person:
    return Person(
        id=doc["id"],
        tenant=doc["tenant"],
        user_name=doc.get("user_name", doc["id"]),
        display_name=doc.get("display_name"),
        email=doc.get("email"),
        title=doc.get("title"),
        department=doc.get("department"),
        manager_id=doc.get("manager_id"),
        time_zone=doc.get("time_zone"),
        locale=doc.get("locale"),
        active=doc.get("active", True),
    )
