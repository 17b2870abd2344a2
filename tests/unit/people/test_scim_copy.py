"""The SCIM copy of a person written from facts (an HRIS import, the people API)."""

from __future__ import annotations

import orjson

from services.people.domain import PersonFacts
from services.people.scim.protocol import ENTERPRISE, load_user, manager_ref, stored_user

ADA = PersonFacts(
    user_name="ada@acme.com",
    email="ada@acme.com",
    emails=("ada@acme.com",),
    given_name="Ada",
    manager_id="m1",
)
USERS = "https://people.example/scim/v2/Users"


def test_a_new_copy_holds_the_facts_and_renders_the_manager_reference() -> None:
    stored = orjson.loads(stored_user(ADA, None))
    assert stored["userName"] == "ada@acme.com"
    assert stored["emails"] == [{"value": "ada@acme.com", "type": "work", "primary": True}]
    assert stored[ENTERPRISE]["manager"] == {"value": "m1"}  # no base URL at write time
    user = load_user(orjson.dumps(stored).decode())
    manager_ref(user, USERS)
    rendered = user.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert rendered[ENTERPRISE]["manager"] == {"value": "m1", "$ref": f"{USERS}/m1"}


def test_facts_keep_what_the_identity_provider_sent_beside_them() -> None:
    sent = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@acme.com",
        "phoneNumbers": [{"value": "+1 555", "type": "work"}],
        "emails": [{"value": "ada@home.com", "type": "home", "primary": True}],
    }
    changed = orjson.loads(stored_user(ADA.with_changes(title="CTO"), orjson.dumps(sent).decode()))
    assert changed["phoneNumbers"] == sent["phoneNumbers"]
    assert changed["title"] == "CTO"
    assert [e["value"] for e in changed["emails"]] == ["ada@acme.com", "ada@home.com"]


def test_a_reference_already_there_is_kept() -> None:
    user = load_user(stored_user(ADA, None))
    manager_ref(user, USERS)
    manager_ref(user, "https://elsewhere/Users")
    manager = user.model_dump(by_alias=True, mode="json")[ENTERPRISE]["manager"]
    assert manager["$ref"] == f"{USERS}/m1"
