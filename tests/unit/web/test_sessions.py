"""Sessions and one-time login links: hashed at rest, expiring, single use, pruned."""

from __future__ import annotations

from datetime import timedelta

from services.web.sessions import Identity, SessionStore, digest
from tests.unit.web.fakes import FakeDb

PRIYA = Identity(tenant="acme", person_id="p-1", roles=["employee"], name="Priya")


async def test_a_session_is_stored_under_the_hash_of_its_id_only() -> None:
    db = FakeDb()
    store = SessionStore(db, ttl_s=60, link_ttl_s=60)
    session = await store.open(PRIYA)
    [stored] = db["sessions"].docs
    assert stored["_id"] == digest(session.id) != session.id
    assert session.id not in str(stored)
    found = await store.find(session.id)
    assert found is not None
    assert (found.tenant, found.person_id, found.csrf_token) == ("acme", "p-1", session.csrf_token)


async def test_an_expired_session_is_gone_and_pruned() -> None:
    db = FakeDb()
    store = SessionStore(db, ttl_s=60, link_ttl_s=60)
    session = await store.open(PRIYA)
    db["sessions"].docs[0]["expires_at"] -= timedelta(seconds=61)
    assert await store.find(session.id) is None
    live = await store.open(PRIYA)
    await store.prune()
    assert [d["_id"] for d in db["sessions"].docs] == [digest(live.id)]


async def test_closing_a_session_ends_it() -> None:
    store = SessionStore(FakeDb(), ttl_s=60, link_ttl_s=60)
    session = await store.open(PRIYA)
    await store.close(session.id)
    assert await store.find(session.id) is None


async def test_a_login_link_works_once_and_is_stored_hashed() -> None:
    db = FakeDb()
    store = SessionStore(db, ttl_s=60, link_ttl_s=60)
    token = await store.issue_link(PRIYA)
    assert db["login_links"].docs[0]["_id"] == digest(token)
    assert await store.redeem_link(token) == Identity("acme", "p-1", ["employee"])
    assert await store.redeem_link(token) is None


async def test_an_expired_login_link_signs_no_one_in() -> None:
    db = FakeDb()
    store = SessionStore(db, ttl_s=60, link_ttl_s=60)
    token = await store.issue_link(PRIYA)
    db["login_links"].docs[0]["expires_at"] -= timedelta(seconds=61)
    assert await store.redeem_link(token) is None


async def test_a_pending_sign_in_is_finished_once() -> None:
    store = SessionStore(FakeDb(), ttl_s=60, link_ttl_s=60)
    await store.begin_sign_in("state-1", {"nonce": "n", "code_verifier": "v", "next": "/"})
    found = await store.finish_sign_in("state-1")
    assert found is not None
    assert found["nonce"] == "n"
    assert await store.finish_sign_in("state-1") is None
