"""Events that land after a person's erasure: nobody is told anything about them.

``person.erased`` and a goal's milestone travel on different topics, so the milestone of an
owner erased a moment ago may be read after the erasure; what erasure deleted must not come
back from it (an inbox item about them, a webhook naming them).
"""

from __future__ import annotations

from shared.events import new_event
from shared.events.goals import GoalCreated, GoalProgressUpdated
from shared.events.people import PersonErased
from tests.unit.notifications.conftest import TENANT, World
from tests.unit.notifications.test_rules import GOAL, milestone


async def test_a_late_milestone_of_an_erased_owner_reaches_nobody(world: World) -> None:
    world.person("max")
    world.person("mia")
    world.directory.mentors[(TENANT, "ada")] = ["mia"]
    world.person("bob", manager_id="max")
    await world.erased.record(TENANT, "ada")  # ada's own entry is gone from the directory
    await world.receive(milestone(owner="ada", goal_id="g1"))
    await world.receive(milestone(owner="bob", goal_id="g2"))
    # bob's milestone, after ada's, went out: ada's was read and made into nothing
    assert {(n.recipient_id, n.data["owner_id"]) for n in world.notifications.stored()} == {
        ("bob", "bob"),
        ("max", "bob"),
    }
    assert world.deliveries.of("ada") == world.deliveries.of("mia") == []


async def test_an_erased_recipient_is_left_out_and_the_others_are_told(world: World) -> None:
    world.person("ada", manager_id="max")
    world.person("mia")
    world.directory.mentors[(TENANT, "ada")] = ["mia"]
    await world.erased.record(TENANT, "max")  # the manager left and asked to be erased
    await world.receive(milestone(owner="ada"))
    assert {n.recipient_id for n in world.notifications.stored()} == {"ada", "mia"}
    assert world.deliveries.of("max") == []


async def test_another_tenants_erasure_of_the_same_id_changes_nothing(world: World) -> None:
    world.person("ada")
    await world.erased.record("globex", "ada")
    await world.receive(milestone(owner="ada"))
    assert len(world.notifications.of("ada")) == 1


async def test_webhooks_get_no_late_event_naming_them_but_hear_of_the_erasure(
    world: World,
) -> None:
    await world.subscribe("s1", ["northstar.goal.*", "northstar.person.*"])
    await world.erased.record(TENANT, "ada")
    await world.receive(milestone(owner="ada", goal_id="g1"), subject="g1")
    await world.receive(milestone(owner="bob", goal_id="g2"), subject="g2")
    erased = await world.receive(PersonErased(id="ada", tenant=TENANT), subject="ada")
    types = sorted(
        (d.event_type, (d.payload or "").count('"owner_id":"bob"'))
        for d in world.deliveries.of("s1")
    )
    assert types == [
        ("northstar.goal.milestone_reached.v1", 1),
        (erased.type, 0),
    ]


async def test_a_late_goal_event_of_an_erased_owner_binds_no_metric_to_them(world: World) -> None:
    await world.erased.record(TENANT, "ada")
    goal = {**GOAL, "status": "active", "bound_metrics": ["adoption"]}
    await world.receive(GoalCreated(**goal, goal_id="g1", owner_id="ada"))
    await world.receive(GoalCreated(**goal, goal_id="g2", owner_id="bob"))
    assert await world.bindings.owners_bound_to(TENANT, "adoption") == ["bob"]


async def test_a_run_of_progress_events_reads_the_tenants_erasures_once(world: World) -> None:
    await world.subscribe("s1", ["northstar.goal.*"])
    # an id no event id or time can hold (the check looks for the id anywhere in the payload,
    # and "ada" alone turned up in a random hex id about once in 15 runs)
    await world.erased.record(TENANT, "ada-lovelace")
    run = [
        new_event(
            GoalProgressUpdated(
                **{**GOAL, "owner_id": owner, "goal_id": f"g{n}", "status": "active"},
                old_progress=0.1,
                new_progress=0.2,
                cause={"kind": "kpi"},
            ),
            tenant=TENANT,
            subject=f"g{n}",
            source="tests",
        )
        for n, owner in enumerate(["bob", "ada-lovelace", "cy", "bob"])
    ]
    await world.router.dispatch_batch(run)
    assert world.erased.tenant_reads == 1
    # the events naming no one erased are queued, the one naming them is not
    assert sorted(d.event_id for d in world.deliveries.of("s1")) == sorted(
        e.id for e in run if e.data["owner_id"] != "ada-lovelace"
    )
