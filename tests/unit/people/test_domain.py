"""Pure rules: events of a person change, manager cycles, HRIS planning, SCIM filters."""

from __future__ import annotations

import itertools

import pytest

from services.people.domain import (
    ManagerCycle,
    PersonFacts,
    check_manager,
    find_cycle,
    person_events,
)
from services.people.hris import parse_rows, plan_import, read_csv
from services.people.scim.errors import ScimError
from services.people.scim.filters import USER_FIELDS, translate
from services.people.scim.protocol import ENTERPRISE, normalize_patch, normalize_payload
from shared.errors import RuleNotMet

ADA = PersonFacts(user_name="ada@acme.com", manager_id="m1")


def test_a_new_person_is_one_snapshot_marked_created() -> None:
    events = person_events("acme", "p1", None, ADA, 1)
    assert [e.type for e in events] == ["northstar.person.upserted.v1"]
    assert events[0].data["created"] is True


def test_every_change_ends_with_the_full_snapshot() -> None:
    after = ADA.with_changes(manager_id="m2", active=False)
    events = person_events("acme", "p1", ADA, after, 2)
    assert [e.type for e in events] == [
        "northstar.person.manager_changed.v1",
        "northstar.person.deactivated.v1",
        "northstar.person.upserted.v1",
    ]
    assert events[0].data["old_manager_id"] == "m1"
    assert events[-1].data["active"] is False


def test_no_change_records_no_event_and_ids_are_stable_per_version() -> None:
    assert person_events("acme", "p1", ADA, ADA, 2) == []
    first = person_events("acme", "p1", ADA, ADA.with_changes(title="PM"), 2)
    again = person_events("acme", "p1", ADA, ADA.with_changes(title="PM"), 2)
    assert [e.id for e in first] == [e.id for e in again]


def test_a_manager_below_the_person_is_a_cycle() -> None:
    with pytest.raises(ManagerCycle):
        check_manager("ceo", "pm", ["vp", "ceo"])
    with pytest.raises(ManagerCycle):
        check_manager("ceo", "ceo", [])
    check_manager("pm", "vp", ["ceo"])


def test_find_cycle_names_the_loop() -> None:
    assert find_cycle({"a": "b", "b": "c", "c": None}) is None
    assert sorted(find_cycle({"a": "b", "b": "c", "c": "a", "d": "a"}) or []) == ["a", "b", "c"]


EXPORT = "employee_id,email,manager_id\nE1,ceo@acme.com,\nE2,vp@acme.com,E1\n"


def test_import_plan_creates_matches_and_deactivates_the_missing() -> None:
    counter = itertools.count()
    rows = parse_rows(read_csv(EXPORT), {})
    existing = {
        "p-vp": PersonFacts(user_name="VP@acme.com", external_id="E2"),
        "p-old": PersonFacts(user_name="old@acme.com", external_id="E9"),
    }
    plan = plan_import(rows, existing, lambda: f"new-{next(counter)}", deactivate_missing=True)
    assert [pid for pid, _ in plan.created] == ["new-0"]
    assert [pid for pid, _, _ in plan.updated] == ["p-vp"]
    assert plan.updated[0][2].manager_id == "new-0"
    assert [pid for pid, _, _ in plan.deactivated] == ["p-old"]
    assert plan.deactivation_share == 0.5
    assert plan.diff()["manager_changes"][0]["new_manager_id"] == "new-0"


def test_import_refuses_unknown_managers_and_bad_rows() -> None:
    with pytest.raises(Exception, match="unknown managers"):
        plan_import(
            parse_rows(read_csv("employee_id,email,manager_id\nE1,a@acme.com,E7\n"), {}),
            {},
            lambda: "x",
            deactivate_missing=False,
        )
    with pytest.raises(Exception, match="invalid rows"):
        parse_rows(read_csv("employee_id,email\n,a@acme.com\n"), {})


@pytest.mark.parametrize(
    "email", ["e1@acme.test", "e1@acme.local", "e1@localhost", "not-an-email", "e1@ac me.com"]
)
def test_an_address_people_cannot_be_stored_with_names_its_row(email: str) -> None:
    export = f"employee_id,email\nE0,ok@acme.com\nE1,{email}\n"
    with pytest.raises(RuleNotMet) as refused:
        parse_rows(read_csv(export), {})
    assert refused.value.extra["problems"][0].startswith(f"row 2: email {email!r}: ")


def test_indexed_filters_become_exact_queries() -> None:
    t = translate('userName eq "Ada@Acme.com" and active eq true', USER_FIELDS)
    assert t.exact
    assert t.query == {"$and": [{"user_name_key": "ada@acme.com"}, {"active": True}]}
    manager = translate(f'{ENTERPRISE}:manager.value eq "m1"', USER_FIELDS)
    assert manager.query == {"manager_id": "m1"}
    assert manager.exact


def test_value_paths_and_unknown_attributes_are_supersets_to_post_filter() -> None:
    t = translate('emails[type eq "work"].value eq "a@acme.com"', USER_FIELDS)
    assert not t.exact
    assert t.query == {"$and": [{"email_types": "work"}, {"email_keys": "a@acme.com"}]}
    assert not translate('nickName eq "x"', USER_FIELDS).exact
    assert translate('not (nickName eq "x")', USER_FIELDS).query == {}


def test_a_malformed_filter_is_invalid_filter() -> None:
    with pytest.raises(ScimError) as error:
        translate("userName eq", USER_FIELDS)
    assert error.value.extra["scim_type"] == "invalidFilter"


def test_entra_dialect_is_normalised() -> None:
    users = "https://people.test/scim/v2/Users"
    body = normalize_payload(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "a",
            "active": "False",
            "urn:ietf:params:scim:schemas:extension:Enterprise:2.0:User": {"manager": "m1"},
        },
        users,
        user=True,
    )
    assert body["active"] is False
    assert body[ENTERPRISE]["manager"] == {"value": "m1", "$ref": f"{users}/m1"}
    assert ENTERPRISE in body["schemas"]
    ops = normalize_patch(
        {
            "Operations": [
                {"op": "Replace", "path": "active", "value": "True"},
                {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""},
            ]
        },
        users,
        user=True,
    )["Operations"]
    assert ops[0]["value"] is True
    assert ops[1] == {"op": "remove", "path": f"{ENTERPRISE}:manager"}
