"""The local document store the scripts start: FerretDB on a private PostgreSQL by default.

Real servers on free loopback ports in a private state folder; nothing shared is touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from deploy.local.servers import (
    DocumentStore,
    ServerError,
    docstore_backend,
    free_port,
    port_open,
)

pytestmark = pytest.mark.skipif(
    shutil.which("mongod") is not None or not list(Path("/usr/lib/postgresql").glob("*/bin")),
    reason="the PostgreSQL-backed store is the default only without mongod, with PostgreSQL",
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DocumentStore, Path]]:
    monkeypatch.delenv("NORTHSTAR_DOCSTORE", raising=False)
    store = DocumentStore(port=free_port(), name="pg-docstore")
    yield store, tmp_path
    store.process(tmp_path).stop()


def _backend_port(state: Path, name: str) -> int:
    pid = int((state / "pids" / f"{name}-pg.pid").read_text())
    cmdline = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    assert Path(cmdline[0]).name == "postgres"
    return int(cmdline[cmdline.index("-p") + 1])


def test_default_is_ferretdb_on_a_private_postgresql_stopped_with_it(
    store: tuple[DocumentStore, Path],
) -> None:
    docstore, state = store
    assert docstore_backend() == "postgresql"
    handle = docstore.start(state)
    pg_port = _backend_port(state, docstore.name)
    client: MongoClient[dict[str, object]] = MongoClient(docstore.uri)
    try:
        assert "ferretdbVersion" in client.admin.command("buildInfo")
        client.local_store.items.insert_one({"_id": "kept", "n": 1})
    finally:
        client.close()
    assert port_open(pg_port)

    handle.stop()
    assert not port_open(docstore.port)
    assert not port_open(pg_port), "PostgreSQL must stop with the store, not be left running"

    docstore.start(state)  # `make down` then `make up`: the data is still there
    client = MongoClient(docstore.uri)
    try:
        assert client.local_store.items.find_one({"_id": "kept"}) == {"_id": "kept", "n": 1}
    finally:
        client.close()


def test_a_crashed_store_restarts_on_a_fresh_postgresql(store: tuple[DocumentStore, Path]) -> None:
    docstore, state = store
    docstore.start(state)
    first_pg = _backend_port(state, docstore.name)
    docstore.process(state).kill()  # kill -9 of FerretDB; PostgreSQL is shut down cleanly
    assert not port_open(first_pg)
    docstore.start(state)
    client: MongoClient[dict[str, object]] = MongoClient(docstore.uri)
    try:
        assert client.admin.command("ping")["ok"]
    finally:
        client.close()


def test_the_backend_is_chosen_by_an_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NORTHSTAR_DOCSTORE", "sqlite")
    assert docstore_backend() == "sqlite"
    monkeypatch.setenv("NORTHSTAR_DOCSTORE", "PostgreSQL")
    assert docstore_backend() == "postgresql"
    monkeypatch.setenv("NORTHSTAR_DOCSTORE", "oracle")
    with pytest.raises(ServerError, match="NORTHSTAR_DOCSTORE"):
        docstore_backend()
