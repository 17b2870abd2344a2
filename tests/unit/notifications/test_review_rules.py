"""Review events tell each person what is theirs to do; a reminder made moot is not sent."""

from __future__ import annotations

from datetime import date

from services.notifications.delivery import DIGEST, SUPPRESSED
from services.notifications.domain import Preferences
from shared.events.reviews import (
    ReviewAssigned,
    ReviewReleased,
    ReviewReminderDue,
    ReviewSubmitted,
)
from tests.unit.notifications.conftest import TENANT, World

REVIEW = {"review_id": "r1", "cycle_id": "c1", "tenant": TENANT, "person_id": "ada"}


async def test_each_review_event_goes_to_the_person_whose_turn_it_is(world: World) -> None:
    world.person("ada", manager_id="max")
    world.person("max")
    await world.receive(
        ReviewAssigned(
            **REVIEW, cycle_name="H2", manager_id="max", self_review_due=date(2026, 3, 20)
        )
    )
    [assigned] = world.notifications.of("ada")
    assert assigned.title == "Your review is open: H2"
    assert assigned.data["review_id"] == "r1"  # the web links to /reviews/r1
    assert world.notifications.of("max") == []
    await world.receive(ReviewSubmitted(**REVIEW, manager_id="max", form="self"))
    [submitted] = world.notifications.of("max")
    assert submitted.title == "Self review submitted"
    await world.receive(ReviewSubmitted(**REVIEW, manager_id="max", form="manager"))
    assert len(world.notifications.of("max")) == 1  # nobody waits on a manager review
    await world.receive(ReviewReleased(**REVIEW, manager_id="max"))
    assert [n.title for n in world.notifications.of("ada")][-1] == "Your review is released"


async def test_a_step_reminder_waiting_for_the_digest_is_dropped_once_the_step_is_done(
    world: World,
) -> None:
    world.person("ada", manager_id="max", email="ada@x.test")
    await world.preferences.save(
        TENANT, "ada", Preferences(channels={"review_due": {"email": "digest"}})
    )
    await world.receive(
        ReviewReminderDue(
            **REVIEW, step="self_review", recipient_id="ada", due_on=date(2026, 3, 20)
        )
    )
    [waiting] = world.deliveries.of("ada")
    assert waiting.status == DIGEST
    await world.receive(ReviewSubmitted(**REVIEW, manager_id="max", form="self"))
    [dropped] = world.deliveries.of("ada")
    assert dropped.status == SUPPRESSED
