"""The goals service's tenant-level records: templates, settings and the scheduler's lease."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.errors import Conflict
from shared.leases import acquire_lease, release_lease
from shared.mongo import Document

TEMPLATES = "goal_templates"
TENANT_SETTINGS = "goal_settings"
LEASES = "leases"


class TenantRecords:
    """Every query of the records that belong to a tenant (or the system), not to one goal."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.templates = db[TEMPLATES]
        self.settings = db[TENANT_SETTINGS]
        self.leases = db[LEASES]

    # ------------------------------------------------------------------ templates

    async def tenant_templates(self, tenant: str) -> list[Document]:
        cursor = self.templates.find({"tenant": tenant}, {"_id": 0}).sort("id", ASCENDING)
        return [doc async for doc in cursor]

    async def tenant_template(self, tenant: str, template_id: str) -> Document | None:
        return await self.templates.find_one({"tenant": tenant, "id": template_id}, {"_id": 0})

    async def add_template(self, template: Document) -> None:
        try:
            await self.templates.insert_one(
                {"_id": f"{template['tenant']}:{template['id']}", **template}
            )
        except DuplicateKeyError as exc:
            raise Conflict(f"template {template['id']} already exists") from exc

    # ------------------------------------------------------------------ tenant settings

    async def tenant_settings(self, tenant: str) -> Document | None:
        return await self.settings.find_one({"_id": tenant}, {"_id": 0})

    async def put_tenant_settings(self, tenant: str, values: Document) -> None:
        await self.settings.update_one(
            {"_id": tenant}, {"$set": {"tenant": tenant, **values}}, upsert=True
        )

    # ------------------------------------------------------------------ leases

    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
        """Take or renew a named lease; False while another holder's lease runs."""
        return await acquire_lease(self.leases, name, holder, now, ttl_s)

    async def release_lease(self, name: str, holder: str) -> None:
        await release_lease(self.leases, name, holder)
