"""The career records of a tenant: its ladders, each person's levels, and the scheduler's lease."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.reviews.ladders import BUILT_IN_LADDER, Ladder, Level
from shared.errors import VersionConflict
from shared.events.envelope import Envelope
from shared.messaging.outbox import with_outbox
from shared.mongo import Document
from shared.time import as_utc

LADDERS = "ladders"
LEVELS = "career_levels"
LEASES = "leases"
SYSTEM_TENANT = "_system"


@dataclass(frozen=True)
class CareerLevel:
    """Where a person stands: their level on a ladder and the one they aim for."""

    person_id: str
    ladder_id: str
    current_level: str | None = None
    current_source: str | None = None  # hr, manager or title
    target_level: str | None = None
    updated_at: datetime | None = None


def ladder_doc(tenant: str, ladder: Ladder) -> Document:
    return {
        "tenant": tenant,
        "id": ladder.id,
        "name": ladder.name,
        "levels": [
            {"id": lv.id, "name": lv.name, "expectations": lv.expectations, "titles": lv.titles}
            for lv in ladder.levels
        ],
    }


def ladder_from_doc(doc: Document) -> Ladder:
    levels = [
        Level(lv["id"], lv["name"], dict(lv["expectations"]), tuple(lv.get("titles", ())))
        for lv in doc["levels"]
    ]
    return Ladder(
        id=doc["id"],
        name=doc["name"],
        levels=tuple(levels),
        version=int(doc.get("version", 0)),
        skills=tuple(levels[0].expectations),
    )


class CareerRecords:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.ladders = db[LADDERS]
        self.levels = db[LEVELS]
        self.leases = db[LEASES]

    @classmethod
    def indexes(cls) -> dict[str, list[IndexModel]]:
        return {
            LADDERS: [IndexModel([("tenant", ASCENDING), ("id", ASCENDING)], unique=True)],
            LEVELS: [IndexModel([("tenant", ASCENDING), ("person_id", ASCENDING)], unique=True)],
            LEASES: [IndexModel([("tenant", ASCENDING), ("expires_at", ASCENDING)])],
        }

    # ------------------------------------------------------------------ ladders

    async def ladders_of(self, tenant: str) -> list[Ladder]:
        """The tenant's ladders; the built-in one unless the tenant edited it (same id)."""
        own = [ladder_from_doc(doc) async for doc in self.ladders.find({"tenant": tenant})]
        if all(ladder.id != BUILT_IN_LADDER.id for ladder in own):
            own.insert(0, BUILT_IN_LADDER)
        return own

    async def ladder(self, tenant: str, ladder_id: str) -> Ladder | None:
        doc = await self.ladders.find_one({"_id": f"{tenant}:{ladder_id}"})
        if doc is not None and doc.get("tenant") == tenant:
            return ladder_from_doc(doc)
        return BUILT_IN_LADDER if ladder_id == BUILT_IN_LADDER.id else None

    async def put_ladder(self, tenant: str, ladder: Ladder, expected_version: int | None) -> int:
        """Create or replace a ladder; ``expected_version`` (when given) guards a lost update."""
        key = f"{tenant}:{ladder.id}"
        filter_: Document = {"_id": key}
        if expected_version is not None:
            filter_["version"] = expected_version
        try:
            doc = await self.ladders.find_one_and_update(
                filter_,
                {"$set": ladder_doc(tenant, ladder), "$inc": {"version": 1}},
                upsert=expected_version is None or expected_version == 0,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError as exc:
            raise VersionConflict("the ladder was changed by someone else") from exc
        if doc is None:
            raise VersionConflict("the ladder was changed by someone else; reload it")
        return int(doc["version"])

    # ------------------------------------------------------------------ levels

    async def level_of(self, tenant: str, person_id: str) -> CareerLevel | None:
        doc = await self.levels.find_one({"_id": f"{tenant}:{person_id}"}, {"pending_events": 0})
        if doc is None or doc.get("tenant") != tenant:
            return None
        return CareerLevel(
            person_id=doc["person_id"],
            ladder_id=doc["ladder_id"],
            current_level=doc.get("current_level"),
            current_source=doc.get("current_source"),
            target_level=doc.get("target_level"),
            updated_at=as_utc(doc.get("updated_at")),
        )

    async def set_level(
        self,
        tenant: str,
        level: CareerLevel,
        events: Sequence[Envelope],
        *,
        only_if_source_in: Sequence[str | None] | None = None,
    ) -> bool:
        """Store a person's levels with their event; ``only_if_source_in`` keeps a level set
        by a person from being overwritten by a title mapping. False when it was."""
        filter_: Document = {"_id": f"{tenant}:{level.person_id}"}
        if only_if_source_in is not None:
            filter_["current_source"] = {"$in": list(only_if_source_in)}
        fields = {"tenant": tenant, **vars(level)}
        try:
            result = await self.levels.update_one(
                filter_, with_outbox({"$set": fields}, events), upsert=True
            )
        except DuplicateKeyError:
            return False  # the filter refused an existing record: not ours to change
        return result.matched_count > 0 or result.upserted_id is not None

    # ------------------------------------------------------------------ leases

    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
        """Take or renew a named lease; False while another holder's lease runs."""
        try:
            doc = await self.leases.find_one_and_update(
                {"_id": name, "$or": [{"holder": holder}, {"expires_at": {"$lt": now}}]},
                {
                    "$set": {
                        "tenant": SYSTEM_TENANT,
                        "holder": holder,
                        "expires_at": now + timedelta(seconds=ttl_s),
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False
        return doc is not None and doc.get("holder") == holder

    async def release_lease(self, name: str, holder: str) -> None:
        await self.leases.update_one(
            {"_id": name, "holder": holder},
            {"$set": {"expires_at": datetime(1970, 1, 1, tzinfo=UTC)}},
        )
