"""The inbox stream (``GET /v1/inbox/stream``) as the benches read it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson


async def inbox_items(
    resp: httpx.Response, stop: asyncio.Event
) -> AsyncIterator[tuple[float, str, dict[str, Any]]]:
    """Each ``notification`` event: when it arrived (perf_counter), its id, the inbox item.
    Ends when the stream does or once ``stop`` is set."""
    event, item_id = "", ""
    async for line in resp.aiter_lines():
        now = time.perf_counter()
        if stop.is_set():
            return
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("id:"):
            item_id = line[3:].strip()
        elif line.startswith("data:") and event == "notification":
            yield now, item_id, orjson.loads(line[5:])
