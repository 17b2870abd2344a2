"""The goal page's "Ask for feedback on this goal": the ask page opens with the goal preselected,
and the request it sends is about that goal; offered to the owner and their managers only."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, SignIn, check_a11y, screenshot
from tests.browser.harness import Stack, Team, login_url
from tests.browser.social import outsider
from tests.support import unique

pytestmark = pytest.mark.integration

ASK = "Ask for feedback on this goal"


def company_goal(stack: Stack, team: Team, title: str) -> dict[str, Any]:
    """An active goal of the employee that everyone in the tenant may read."""
    body = {
        "title": title,
        "horizon": "short_term",
        "category": "skill",
        "status": "active",
        "visibility": "company",
        "start_date": str(date.today() - timedelta(days=1)),
        "due_date": str(date.today() + timedelta(days=60)),
        "key_results": [{"title": "Roadmap reviews led", "start": 0, "target": 4}],
    }
    response = httpx.post(
        f"{stack.url('goals')}/v1/goals", headers=team.headers("employee"), json=body, timeout=10
    )
    assert response.status_code == 201, response.text
    goal: dict[str, Any] = response.json()
    return goal


def test_the_owner_asks_for_feedback_on_the_goal_from_its_page(
    stack: Stack, team: Team, page: Page, sign_in: SignIn
) -> None:
    title = f"Lead the roadmap reviews {unique()}"
    goal = company_goal(stack, team, title)
    sign_in(page, "employee", next_url=f"/goals/{goal['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    page.get_by_role("link", name=ASK).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Ask for feedback about you")
    expect(page.get_by_label("About a goal (optional)")).to_have_value(goal["id"])
    check_a11y(page)
    screenshot(page, "feedback-ask-on-goal")
    mentors = page.locator(".choice-group", has=page.get_by_role("heading", name="Mentors"))
    mentors.get_by_label(re.compile("Ines Okafor")).check()
    page.get_by_role("button", name="Send the request").click()
    expect(page).to_have_url(re.compile(r"/feedback/requests/[^/]+$"))
    # the request records the goal: its page links back to it
    expect(page.get_by_role("link", name=title)).to_have_attribute("href", f"/goals/{goal['id']}")

    request_id = urlsplit(page.url).path.rsplit("/", 1)[-1]
    stored = httpx.get(
        f"{stack.url('feedback')}/v1/feedback-requests/{request_id}",
        headers=team.headers("employee"),
        timeout=10,
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["goal_id"] == goal["id"]
    assert stored.json()["subject_id"] == team.ids["employee"]


def test_the_manager_is_offered_it_on_a_reports_achieved_goal_and_others_are_not(
    stack: Stack, team: Team, open_page: OpenPage, sign_in: SignIn
) -> None:
    title = f"Ship the pricing page {unique()}"
    goal = company_goal(stack, team, title)
    achieved = httpx.post(
        f"{stack.url('goals')}/v1/goals/{goal['id']}/status",
        headers=team.headers("employee"),
        json={"status": "achieved"},
        timeout=10,
    )
    assert achieved.status_code == 200, achieved.text

    manager = open_page()
    sign_in(manager, "manager", next_url=f"/goals/{goal['id']}")
    expect(manager.get_by_role("heading", level=1)).to_have_text(title)
    link = manager.get_by_role("link", name=ASK)
    query = parse_qs(urlsplit(link.get_attribute("href") or "").query)
    assert query == {"subject_id": [team.ids["employee"]], "goal_id": [goal["id"]]}
    link.click()
    expect(manager.get_by_role("heading", level=1)).to_have_text(
        "Ask for feedback about Priya Shah"
    )
    # achieved goals are not among the open ones the form lists: the one asked about still is
    expect(manager.get_by_label("About a goal (optional)")).to_have_value(goal["id"])
    check_a11y(manager)

    # someone who may read the goal but is not its owner's manager is not offered the action
    olive = open_page()
    olive_id = outsider(stack, team)
    olive.goto(login_url(stack, team.tenant, olive_id, next_url=f"/goals/{goal['id']}"))
    expect(olive.get_by_role("heading", level=1)).to_have_text(title)
    expect(olive.get_by_role("link", name=ASK)).to_have_count(0)
