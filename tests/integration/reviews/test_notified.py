"""HTTP in at reviews, an inbox item at notifications: each person is told what is theirs to do."""

from __future__ import annotations

from typing import Any

import pytest

from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app as notifications_app
from tests.integration.notifications.receivers import SmtpSink
from tests.integration.reviews.conftest import SKILLS, Env, cycle_body
from tests.support import bearer, eventually, isolated_settings, running, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ORG: dict[str, tuple[str | None, str | None]] = {
    "hr": (None, "People"),
    "boss": (None, "Product"),
    "ada": ("boss", "Product"),
}


async def test_the_person_and_then_the_manager_find_their_review_step_in_the_inbox(
    env: Env,
) -> None:
    run_id = env.settings.topic_prefix.removeprefix("t").removesuffix(".")
    sink = SmtpSink()
    sink.start()
    settings = isolated_settings(
        NotificationsSettings, run_id, smtp_port=sink.port, worker_poll_interval_s=0.2
    )
    try:
        async with running(notifications_app(settings)) as inbox:
            tenant = unique("notified-")
            await env.org(tenant, ORG)

            async def items(who: str) -> list[dict[str, Any]]:
                response = await inbox.get("/v1/inbox", headers=bearer(tenant, who))
                return list(response.json().get("items", [])) if response.status_code == 200 else []

            cycle = (
                await env.call(
                    "POST",
                    "/v1/review-cycles",
                    (tenant, "hr"),
                    "hr_admin",
                    json=cycle_body({"kind": "department", "value": "Product"}),
                )
            ).json()
            await env.call(
                "POST", f"/v1/review-cycles/{cycle['id']}/launch", (tenant, "hr"), "hr_admin"
            )
            [assigned] = await eventually(lambda: items("ada"), timeout=60)
            assert assigned["title"] == "Your review is open: H2 review"
            review_id = assigned["data"]["review_id"]
            await env.call(
                "PUT",
                f"/v1/reviews/{review_id}/self-review",
                (tenant, "ada"),
                json={"ratings": dict.fromkeys(SKILLS, 3)},
            )

            async def self_review_in() -> list[dict[str, Any]]:
                return [i for i in await items("boss") if i["title"] == "Self review submitted"]

            [told] = await eventually(self_review_in, timeout=60)
            assert told["data"]["review_id"] == review_id
    finally:
        sink.stop()
