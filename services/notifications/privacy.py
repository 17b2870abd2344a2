"""What the notifications service holds about a person, and how it forgets them (GDPR).

Erasure deletes the person's inbox, deliveries (email, Slack, digests), preferences and the
goal bindings of their goals; and, in other people's inboxes, every item about them (its
event is about them, it links to their goal, or its text names them) with its deliveries, the
webhook deliveries whose payload names them, and the settled reminders that carry their id.
Nothing of an inbox item is worth keeping once who it is about is gone.
"""

from __future__ import annotations

import re
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.notifications.deliveries import DELIVERIES
from services.notifications.delivery import DELIVERED, DIGESTED, FAILED, SUPPRESSED
from services.notifications.repository import BINDINGS, NOTIFICATIONS, PREFERENCES
from services.notifications.settled import SETTLED
from shared.directory import PeopleDirectory
from shared.erasure import documents
from shared.events.people import PersonErased
from shared.messaging.outbox import PENDING
from shared.mongo import Document
from shared.retention import Purge, age_index

# a name shorter than this is too likely a word of its own to delete inbox items by it
MIN_NAME = 3
# the fields of an inbox item's event that name the person it is about
ABOUT = ("event_subject", "data.owner_id")


def naming(tenant: str, person_id: str, names: list[str]) -> Document:
    """Candidate inbox items (of anyone) about the person, by id or by a name in their text
    (:func:`about_them` decides: the store's regex knows no word boundary everywhere)."""
    clauses: list[Document] = [{"recipient_id": person_id}]
    clauses += [{field: person_id} for field in ABOUT]
    for name in names:
        if len(name) >= MIN_NAME:
            pattern = {"$regex": re.escape(name), "$options": "i"}
            clauses += [{"title": pattern}, {"summary": pattern}]
    return {"tenant": tenant, "$or": clauses}


def about_them(doc: Document, person_id: str, names: list[str]) -> bool:
    """The item is the person's, or about them: its event, its goal, or their name as a whole
    word in its text ("Ann" names Ann, not an "Annual review")."""
    if doc.get("recipient_id") == person_id or doc.get("event_subject") == person_id:
        return True
    if (doc.get("data") or {}).get("owner_id") == person_id:
        return True
    text = f"{doc.get('title') or ''}\n{doc.get('summary') or ''}"
    return any(
        re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)
        for name in names
        if len(name) >= MIN_NAME
    )


def _mentioned(person_id: str) -> Document:
    return {"$regex": re.escape(person_id)}


class NotificationsPersonalData:
    def __init__(self, db: AsyncDatabase[Document], directory: PeopleDirectory) -> None:
        self.notifications = db[NOTIFICATIONS]
        self.deliveries = db[DELIVERIES]
        self.preferences = db[PREFERENCES]
        self.bindings = db[BINDINGS]
        self.settled = db[SETTLED]
        self.directory = directory

    async def _names(self, tenant: str, person_id: str) -> list[str]:
        person = await self.directory.get(tenant, person_id)
        if person is None:
            return []
        return [n for n in {person.display_name, person.user_name, person.email} if n]

    async def export(self, tenant: str, person_id: str) -> dict[str, list[Document]]:
        return {
            "inbox": await documents(
                self.notifications, {"tenant": tenant, "recipient_id": person_id}
            ),
            DELIVERIES: await documents(
                self.deliveries, {"tenant": tenant, "recipient_id": person_id}
            ),
            PREFERENCES: await documents(
                self.preferences, {"tenant": tenant, "person_id": person_id}
            ),
        }

    async def erase(self, tenant: str, person_id: str) -> None:
        # runs before the people projection forgets them: their names find the items
        names = await self._names(tenant, person_id)
        fields = {"recipient_id": 1, "event_subject": 1, "data": 1, "title": 1, "summary": 1}
        ids: list[Any] = [
            doc["_id"]
            async for doc in self.notifications.find(naming(tenant, person_id, names), fields)
            if about_them(doc, person_id, names)
        ]
        # deliveries first: a crash before the items go leaves the items to find them again
        await self.deliveries.delete_many(
            {
                "tenant": tenant,
                "$or": [
                    {"recipient_id": person_id},
                    {"notification_id": {"$in": ids}},
                    {"ref": _mentioned(person_id)},
                    # subscribers still learn of the erasure itself (it names only the id)
                    {
                        "payload": _mentioned(person_id),
                        "event_type": {"$ne": PersonErased.event_type},
                    },
                ],
            }
        )
        await self.notifications.delete_many({"tenant": tenant, "_id": {"$in": ids}})
        await self.notifications.delete_many({"tenant": tenant, "ref": _mentioned(person_id)})
        await self.preferences.delete_many({"tenant": tenant, "person_id": person_id})
        await self.bindings.delete_many({"tenant": tenant, "owner_id": person_id})
        await self.settled.delete_many({"tenant": tenant, "ref": _mentioned(person_id)})


def retention_purges(db: AsyncDatabase[Document]) -> list[Purge]:
    """What ages out under the tenant's retention: inbox items, and deliveries that are over
    (a waiting one, or one whose events are not relayed yet, stays until it is)."""
    return [
        Purge("inbox", db[NOTIFICATIONS], "created_at"),
        Purge(
            DELIVERIES,
            db[DELIVERIES],
            "created_at",
            {
                "status": {"$in": [DELIVERED, DIGESTED, FAILED, SUPPRESSED]},
                f"{PENDING}.0": {"$exists": False},
            },
        ),
    ]


# what the retention job walks: a tenant's items and deliveries by age
RETENTION_INDEXES = {
    NOTIFICATIONS: [age_index("created_at")],
    DELIVERIES: [age_index("created_at")],
}
