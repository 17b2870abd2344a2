"""Issue 14, browser tests 1 and 5: a goal bound to a KPI moves live; forms, CSRF, sign-in, 404."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, SignIn
from tests.browser.harness import Stack, Team, create_kpi_source, login_url, push_kpi

pytestmark = pytest.mark.integration

LAUNCH = "Drive the launch of a product with real impact"
Check = Callable[[Page], None]
Shot = Callable[[Page, str], Path]


def create_launch_goal(page: Page) -> str:
    """Through the form: a long-term goal, a key result bound to adoption_rate{product=mobile}."""
    page.get_by_label("Title", exact=True).first.fill(LAUNCH)
    page.get_by_label("Horizon").select_option("long_term")
    page.get_by_label("Category").select_option("outcome")
    page.get_by_label("Start date").fill(str(date.today() - timedelta(days=30)))
    page.get_by_label("Due date").fill(str(date.today() + timedelta(days=335)))
    first = page.locator("fieldset.key-result").first
    first.get_by_label("Title").fill("Mobile adoption rate reaches 40 %")
    first.get_by_label("Start").fill("0")
    first.get_by_label("Target").fill("40")
    first.get_by_label("Unit").fill("%")
    first.get_by_label("Moved by").select_option("kpi")
    first.get_by_label("KPI metric").fill("adoption_rate")
    first.get_by_label("Dimension filters").fill("product=mobile")
    page.get_by_role("button", name="Create goal").click()
    page.wait_for_url(re.compile(r"/goals/(?!new)[^/]+$"))
    return page.url.rsplit("/", 1)[-1]


def test_a_kpi_webhook_moves_the_open_goal_page_live(
    stack: Stack,
    team: Team,
    page: Page,
    open_page: OpenPage,
    sign_in: SignIn,
    check_a11y: Check,
    screenshot: Shot,
) -> None:
    sign_in(page, "employee")
    check_a11y(page)
    screenshot(page, "dashboard")
    page.goto(f"{stack.web_url}/goals/new")
    check_a11y(page)
    screenshot(page, "goal-new")
    goal_id = create_launch_goal(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(LAUNCH)
    progress = page.locator("#goal-live .goal-progress .progress-value")
    expect(progress).to_have_text("0 %")
    # a marker that a reload would wipe: the change must arrive without one
    page.evaluate("window.northstarMarker = 'still here'")

    # the manager has Northstar open in another browser: the header's badge shows unread items
    manager = open_page()
    sign_in(manager, "manager")
    badge = manager.locator("#unread-badge .badge-count")
    unread_before = int(badge.text_content() or 0)

    source = create_kpi_source(stack, team)
    push_kpi(stack, source, "adoption_rate", 12, product="mobile")

    # 12 of 40 %: progress 30 %, and the 25 % milestone with its cause in the timeline
    expect(progress).to_have_text("30 %", timeout=60_000)
    entry = page.locator(".timeline-entry", has_text="Milestone 25 % reached")
    expect(entry).to_contain_text(f"KPI adoption_rate = 12 from source {source['id']}")
    assert page.evaluate("window.northstarMarker") == "still here"
    # the milestone's celebration reached the manager's inbox: the badge rose without a reload
    expect(badge).not_to_have_text(str(unread_before) if unread_before else "", timeout=60_000)
    assert int(badge.text_content() or 0) > unread_before
    # the chart was redrawn from the pushed fragment: goal created, then the KPI's change
    page.wait_for_function(
        """() => {
            const chart = Chart.getChart(document.querySelector("canvas.progress-chart"));
            return chart && chart.data.datasets[0].data.join() === "0,30";
        }"""
    )
    check_a11y(page)
    screenshot(page, "goal")

    page.goto(f"{stack.web_url}/goals/{goal_id}/edit")
    expect(page.locator("fieldset.key-result").first.get_by_label("KPI metric")).to_have_value(
        "adoption_rate"
    )
    check_a11y(page)
    screenshot(page, "goal-edit")


def test_goal_pages_at_phone_width(
    stack: Stack, open_page: OpenPage, sign_in: SignIn, check_a11y: Check, screenshot: Shot
) -> None:
    phone = open_page(width=390, height=844)
    sign_in(phone, "employee", next_url="/goals/new")
    expect(phone.get_by_role("heading", level=1)).to_have_text("New goal")
    # readable at 390 px: nothing wider than the screen
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    check_a11y(phone)
    screenshot(phone, "goal-new")
    phone.goto(f"{stack.web_url}/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "dashboard")


def test_a_refused_form_keeps_what_was_typed_and_shows_the_problem_by_its_field(
    stack: Stack, page: Page, sign_in: SignIn, check_a11y: Check, screenshot: Shot
) -> None:
    sign_in(page, "employee", next_url="/goals/new")
    page.get_by_label("Title", exact=True).first.fill("Learn SQL properly")
    page.get_by_label("Horizon").select_option("short_term")
    # the goals API refuses a review cadence of 0 days (its problem names the field)
    page.get_by_label("Review every (days)").fill("0")
    first = page.locator("fieldset.key-result").first
    first.get_by_label("Title").fill("Queries written")
    first.get_by_label("Target").fill("lots")  # refused before the API is asked
    page.get_by_role("button", name="Create goal").click()

    expect(page.locator("#key_results-0-target-error")).to_have_text("enter a number")
    expect(first.get_by_label("Target")).to_have_value("lots")
    expect(page.get_by_label("Title", exact=True).first).to_have_value("Learn SQL properly")

    first.get_by_label("Target").fill("20")
    page.get_by_role("button", name="Create goal").click()
    expect(page.locator("#review_every_days-error")).to_contain_text("greater than or equal to 1")
    expect(page.get_by_label("Review every (days)")).to_have_value("0")
    expect(page.get_by_label("Title", exact=True).first).to_have_value("Learn SQL properly")
    expect(first.get_by_label("Target")).to_have_value("20")
    expect(page.get_by_label("Horizon")).to_have_value("short_term")
    check_a11y(page)
    screenshot(page, "goal-new-refused")


def test_a_post_without_the_csrf_token_is_refused(
    stack: Stack, page: Page, sign_in: SignIn, check_a11y: Check
) -> None:
    sign_in(page, "employee")
    # the browser's own cookies, a form without the token: a cross-site forgery's shape
    refused = page.request.post(
        f"{stack.web_url}/goals/new",
        form={"title": "Forged", "horizon": "short_term"},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "did not come from Northstar" in refused.text()
    wrong = page.request.post(
        f"{stack.web_url}/logout", headers={"X-CSRF-Token": "not-the-token"}, max_redirects=0
    )
    assert wrong.status == 403
    page.goto(f"{stack.web_url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your dashboard")  # still signed in
    token = page.locator("input[name=csrf_token]").first.input_value()
    accepted = page.request.post(
        f"{stack.web_url}/logout", form={"csrf_token": token}, max_redirects=0
    )
    assert accepted.status == 303


def test_a_signed_out_visitor_signs_in_and_lands_on_the_page_asked_for(
    stack: Stack, team: Team, page: Page, check_a11y: Check, screenshot: Shot
) -> None:
    page.goto(f"{stack.web_url}/goals/new?template=start-a-company")
    expect(page).to_have_url(re.compile(r"/login\?next=/goals/new"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Northstar")
    check_a11y(page)
    screenshot(page, "login")
    # an email link opened signed out: the one-time link then brings the person there
    page.goto(login_url(stack, team.tenant, team.ids["employee"]))
    expect(page).to_have_url(re.compile(r"/goals/new\?template=start-a-company$"))
    expect(page.get_by_label("Start from a career-guide template")).to_have_value("start-a-company")
    # a spent link signs no one in
    link = login_url(stack, team.tenant, team.ids["employee"])
    other = page.context.browser.new_context() if page.context.browser else None
    assert other is not None
    try:
        second = other.new_page()
        second.goto(link)
        expect(second.get_by_role("heading", level=1)).to_have_text("Your dashboard")
        reused = other.new_page()
        reused.context.clear_cookies()
        reused.goto(link)
        expect(reused.get_by_role("alert")).to_contain_text("expired or was already used")
    finally:
        other.close()


def test_another_tenants_goal_is_not_found(
    stack: Stack,
    team: Team,
    page: Page,
    sign_in: SignIn,
    open_page: OpenPage,
    check_a11y: Check,
    screenshot: Shot,
) -> None:
    sign_in(page, "employee", next_url="/goals/new")
    page.get_by_label("Start from a career-guide template").select_option(
        "enhance-communication-skills"
    )
    page.get_by_role("button", name="Create goal").click()
    page.wait_for_url(re.compile(r"/goals/(?!new)[^/]+$"))
    goal_url = page.url

    outsider = open_page()
    outsider.goto(login_url(stack, "another-tenant", team.ids["employee"]))
    response = outsider.goto(goal_url)
    assert response is not None
    assert response.status == 404
    expect(outsider.get_by_role("heading", level=1)).to_have_text("Not found")
    check_a11y(outsider)
    screenshot(outsider, "not-found")
