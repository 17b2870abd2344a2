"""A person's data export: one JSON archive of what every service holds about them.

The people service adds its own part and asks each service's ``GET /v1/people/{id}/data``
with the caller's own token, so each service checks the caller itself (the person, or an HR
admin). The archive is stored and downloadable by id; a service that did not answer is named
in the export's status (``incomplete``) rather than silently missing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
import orjson
from fastapi.encoders import jsonable_encoder

from services.people.erasure_repository import ErasureRecords
from services.people.service import utcnow
from shared.errors import Forbidden, NotFound
from shared.observability import get_logger

log = get_logger(__name__)


def export_view(doc: dict[str, Any]) -> dict[str, Any]:
    """An export as the API returns it (the archive decoded)."""
    return {
        "id": doc["_id"],
        "person_id": doc["person_id"],
        "status": doc["status"],
        "created_at": doc["created_at"],
        "services": doc["services"],
        "archive": orjson.loads(doc["archive"]),
    }


class Exports:
    def __init__(
        self,
        records: ErasureRecords,
        client: httpx.AsyncClient,
        service_urls: Mapping[str, str],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.records = records
        self.client = client
        self.service_urls = dict(service_urls)
        self._clock = clock

    async def _part(self, name: str, person_id: str, authorization: str) -> tuple[str, Any]:
        url = f"{self.service_urls[name].rstrip('/')}/v1/people/{person_id}/data"
        try:
            response = await self.client.get(url, headers={"Authorization": authorization})
        except httpx.HTTPError as exc:
            log.warning("export part failed", service=name, error=str(exc))
            return f"failed: {type(exc).__name__}", None
        if response.status_code != 200:
            return f"failed: HTTP {response.status_code}", None
        return "done", response.json().get("collections", {})

    async def create(
        self, tenant: str, person_id: str, *, by: str, authorization: str
    ) -> dict[str, Any]:
        stored = await self.records.stored_person(tenant, person_id)
        if stored is None or stored.get("erased"):
            raise NotFound(f"no person {person_id}")
        names = sorted(self.service_urls)
        answers = await asyncio.gather(*(self._part(n, person_id, authorization) for n in names))
        archive: dict[str, Any] = {
            "people": jsonable_encoder(await self.records.person_holdings(tenant, person_id))
        }
        services = {"people": "done"}
        for name, (status, part) in zip(names, answers, strict=True):
            services[name] = status
            if part is not None:
                archive[name] = part
        doc = {
            "_id": str(uuid.uuid4()),
            "tenant": tenant,
            "person_id": person_id,
            "requested_by": by,
            "created_at": self._clock(),
            "status": "ready" if all(s == "done" for s in services.values()) else "incomplete",
            "services": services,
            # a string: exported documents may hold keys a stored document may not
            "archive": orjson.dumps(archive).decode(),
        }
        await self.records.insert_export(doc)
        return doc

    async def get(
        self, tenant: str, person_id: str, export_id: str, *, viewer: str, hr: bool
    ) -> dict[str, Any]:
        doc = await self.records.get_export(tenant, export_id)
        if doc is None or doc["person_id"] != person_id:
            raise NotFound(f"no export {export_id}")
        if not hr and viewer not in (doc["person_id"], doc["requested_by"]):
            raise Forbidden("only the person or an HR admin may read this export")
        return doc
