"""Named leases in the document store: one replica at a time runs a scheduled job.

A lease is one document taken with ``find_one_and_update`` on its expiry time: the holder renews
it every round; another replica takes it over once it has run out (a crashed holder). It needs
nothing beyond what FerretDB 1.24 supports, and it holds across replicas, unlike a process lock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.mongo import Document

SYSTEM_TENANT = "_system"  # a lease belongs to no tenant


async def acquire_lease(
    leases: AsyncCollection[Document], name: str, holder: str, now: datetime, ttl_s: float
) -> bool:
    """Take or renew a named lease; False while another holder's lease runs."""
    try:
        doc = await leases.find_one_and_update(
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
        return False  # the lease exists and is someone else's, still running
    return doc is not None and doc.get("holder") == holder


async def release_lease(leases: AsyncCollection[Document], name: str, holder: str) -> None:
    """Let another replica take the lease at once (a clean shutdown)."""
    await leases.update_one(
        {"_id": name, "holder": holder},
        {"$set": {"expires_at": datetime(1970, 1, 1, tzinfo=UTC)}},
    )
