"""Fixtures of the page tests: the web app signed in as Ada, its API calls answered by stubs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.integration.web_social.stubs import Browser, person, reset, web_app


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def signed_in() -> AsyncIterator[Browser]:
    async with web_app("ada") as browser:
        yield browser


@pytest_asyncio.fixture(loop_scope="module")
async def web(signed_in: Browser) -> Browser:
    reset(signed_in)
    signed_in.apis.on("GET", "/v1/people/ada", (200, person("ada", "Ada Lovelace")))
    return signed_in
