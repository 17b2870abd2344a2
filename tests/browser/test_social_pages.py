"""Every inbox, preferences, feedback, skills and team page in real Chromium at 390 and 1440 px:
axe-core finds no serious or critical violation, nothing overflows sideways, no console error
(the ``open_page`` fixture fails the test on one), and a screenshot of each is saved."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, SignIn, check_a11y, screenshot
from tests.browser.harness import Stack, Team, login_url
from tests.browser.social import ask_mentor, kpi_goal, outsider
from tests.support import unique

pytestmark = pytest.mark.integration

WIDTHS = (390, 1440)
# how far the page scrolls sideways, and the elements that stick out (to say what to fix)
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > width + 1)
    .slice(0, 5).map((el) => `${el.tagName}.${el.className}#${el.id}`);
  return [document.documentElement.scrollWidth - width, out];
}"""


def readable(page: Page, name: str) -> None:
    """axe clean, no sideways scrolling at this width, and a screenshot."""
    check_a11y(page)
    overflow, culprits = page.evaluate(OVERFLOW)
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px: {culprits}"
    screenshot(page, name)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_employees_pages_are_accessible_and_readable(
    stack: Stack, team: Team, open_page: OpenPage, sign_in: SignIn, width: int
) -> None:
    request = ask_mentor(stack, team)
    employee = open_page(width=width)
    pages = {
        "inbox": ("/inbox", "Inbox"),
        "preferences": ("/preferences", "Notification preferences"),
        "feedback": ("/feedback", "Feedback"),
        "feedback-ask-page": ("/feedback/ask", "Ask for feedback about you"),
        "feedback-request-owner": (f"/feedback/requests/{request['id']}", "Feedback about you"),
        "skills-page": ("/skills", "Your skills"),
        "person": (f"/people/{team.ids['employee']}", "Priya Shah"),
    }
    sign_in(employee, "employee")
    for name, (path, heading) in pages.items():
        employee.goto(f"{stack.web_url}{path}")
        expect(employee.get_by_role("heading", level=1)).to_have_text(heading)
        readable(employee, name)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_managers_team_and_a_reports_profile_are_accessible_and_readable(
    stack: Stack, team: Team, open_page: OpenPage, sign_in: SignIn, width: int
) -> None:
    product = f"tablet-{unique()}"
    goal = kpi_goal(stack, team, f"Grow {product} adoption", product)
    manager = open_page(width=width)
    sign_in(manager, "manager", next_url="/team")
    expect(manager.get_by_role("heading", level=1)).to_have_text("Your team")
    member = manager.locator(".team-member", has_text="Priya Shah")
    expect(member.get_by_role("link", name=f"Grow {product} adoption")).to_be_visible()
    readable(manager, "team")
    member.get_by_role("link", name="Priya Shah", exact=True).click()
    expect(manager.get_by_role("heading", level=1)).to_have_text("Priya Shah")
    expect(manager.get_by_role("link", name=f"Grow {product} adoption", exact=True)).to_be_visible()
    readable(manager, "person-as-manager")
    # the manager asks for feedback on the report, about that goal
    ask_on_goal = re.compile(f"^Ask for feedback on this goal.*Grow {product} adoption$")
    manager.get_by_role("link", name=ask_on_goal).click()
    expect(manager.get_by_role("heading", level=1)).to_have_text(
        "Ask for feedback about Priya Shah"
    )
    expect(manager.get_by_label("About a goal (optional)")).to_have_value(goal["id"])
    readable(manager, "feedback-ask-about-report")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_mentors_answer_form_is_accessible_and_readable(
    stack: Stack, team: Team, open_page: OpenPage, sign_in: SignIn, width: int
) -> None:
    request = ask_mentor(stack, team)
    mentor = open_page(width=width)
    sign_in(mentor, "mentor", next_url=f"/feedback/requests/{request['id']}")
    expect(mentor.get_by_role("heading", name="Your answer")).to_be_visible()
    expect(mentor.get_by_label("What should I try next?")).to_be_visible()
    readable(mentor, "feedback-request-answer")


def test_preferences_are_saved_and_shown_back(
    stack: Stack, team: Team, page: Page, sign_in: SignIn
) -> None:
    sign_in(page, "mentor", next_url="/preferences")
    page.get_by_label("Celebrations by Email").select_option("digest")
    page.get_by_label("Hold email and Slack during quiet hours").check()
    page.get_by_label("From").fill("21:30")
    page.get_by_label("Until").fill("07:15")
    page.get_by_label("Your time zone").select_option("Europe/Paris")
    page.get_by_label("Send my digest at").fill("08:45")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    expect(page.get_by_label("Celebrations by Email")).to_have_value("digest")
    expect(page.get_by_label("Hold email and Slack during quiet hours")).to_be_checked()
    expect(page.get_by_label("From")).to_have_value("21:30")
    expect(page.get_by_label("Your time zone")).to_have_value("Europe/Paris")
    expect(page.get_by_label("Send my digest at")).to_have_value("08:45")
    check_a11y(page)


def test_someone_elses_feedback_request_is_the_not_found_page(
    stack: Stack, team: Team, page: Page
) -> None:
    request = ask_mentor(stack, team)
    olive = outsider(stack, team)
    page.goto(login_url(stack, team.tenant, olive, next_url=f"/feedback/requests/{request['id']}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    assert re.search(r"/feedback/requests/", page.url)
    check_a11y(page)
    screenshot(page, "feedback-request-not-found")
