"""What the web app holds about a person, and how it forgets them (GDPR).

Only sign-in state: sessions (their id, roles and name) and unused local sign-in links.
Erasure deletes both, which also signs the person out everywhere. An export lists the sessions
without their secrets (the CSRF token; the stored id is already a digest, left out too).
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from services.web.sessions import LOGIN_LINKS, SESSIONS
from shared.mongo import Document


class WebPersonalData:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.sessions = db[SESSIONS]
        self.links = db[LOGIN_LINKS]

    async def export(self, tenant: str, person_id: str) -> dict[str, list[Document]]:
        hidden = {"_id": 0, "csrf_token": 0}
        query = {"tenant": tenant, "person_id": person_id}
        return {SESSIONS: [doc async for doc in self.sessions.find(query, hidden).limit(1000)]}

    async def erase(self, tenant: str, person_id: str) -> None:
        query = {"tenant": tenant, "person_id": person_id}
        await self.sessions.delete_many(query)
        await self.links.delete_many(query)
