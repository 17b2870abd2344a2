"""Integration tests talk to the real servers that `make test` starts (or the env names)."""

from __future__ import annotations

import pytest

from tests.support import KAFKA, MONGODB_URI


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return KAFKA


@pytest.fixture(scope="session")
def mongodb_uri() -> str:
    return MONGODB_URI
