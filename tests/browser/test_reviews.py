"""Issue 15, web: HR runs a cycle, the employee and the manager write their reviews beside the
packet, HR calibrates and releases, the employee acknowledges; /growth shows the gaps.

The tests run in file order and share one cycle (module-scoped ``cycle`` state).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, SignIn
from tests.browser.harness import Stack, Team

pytestmark = pytest.mark.integration

Check = Callable[[Page], None]
Shot = Callable[[Page, str], Path]
GOAL = "Run a customer-interview programme"
WAIT_S = 90


def wait_for(what: str, condition: Callable[[], Any]) -> Any:
    """Poll ``condition`` until it holds (events reach reviews asynchronously)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def fits_phone(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.fixture(scope="module")
def story(stack: Stack, team: Team) -> Iterator[dict[str, Any]]:
    """What the tests share: the team known to reviews, a goal of the period, then the cycle."""
    reviews = stack.url("reviews")
    with httpx.Client(timeout=15) as http:

        def everyone_known() -> bool:
            return all(
                http.get(
                    f"{reviews}/v1/people/{team.ids[who]}/career", headers=team.headers("hr")
                ).status_code
                == 200
                for who in ("employee", "manager", "mentor", "hr")
            )

        wait_for("the people projection of reviews", everyone_known)
        created = http.post(
            f"{stack.url('goals')}/v1/goals",
            headers=team.headers("employee"),
            json={
                "title": GOAL,
                "horizon": "short_term",
                "category": "skill",
                "status": "active",
                "start_date": str(date.today() - timedelta(days=10)),
                "key_results": [{"title": "Interviews held", "target": 10}],
            },
        )
        created.raise_for_status()
        yield {"goal_id": created.json()["id"]}


def test_hr_creates_and_launches_a_cycle_for_a_department(
    stack: Stack,
    team: Team,
    story: dict[str, Any],
    page: Page,
    sign_in: SignIn,
    check_a11y: Check,
    screenshot: Shot,
) -> None:
    sign_in(page, "hr", next_url="/admin/cycles")
    expect(page.get_by_role("heading", level=1)).to_have_text("Review cycles")
    check_a11y(page)
    screenshot(page, "admin-cycles")

    # a refused form keeps what was typed and shows the problem by its field
    page.get_by_label("Population").select_option("department")
    page.get_by_label("Department or group id").fill("Product")
    page.get_by_role("button", name="Create cycle").click()
    expect(page.locator("#name-error")).to_be_visible()
    expect(page.get_by_label("Department or group id")).to_have_value("Product")

    page.get_by_label("Name").fill("H2 product review")
    page.get_by_role("button", name="Create cycle").click()
    expect(page.locator("#cycle-status")).to_have_text("draft")
    story["cycle_id"] = page.url.rsplit("/", 1)[-1]
    page.get_by_role("button", name="Launch").click()
    expect(page.locator("#cycle-status")).to_have_text("launched")
    # everyone in Product has a review; nobody has written one yet
    expect(page.locator('tr[data-step="self_review"] .step-count')).to_have_text("0 of 4")
    check_a11y(page)
    screenshot(page, "admin-cycle")

    page.goto(f"{stack.web_url}/admin/ladders")
    expect(page.get_by_role("heading", level=1)).to_have_text("Career ladders")
    # HR edits an expected level: the API's refusal shows by its cell and keeps the typed value
    cell = page.locator("#product_management-0-communication")
    cell.fill("9")
    page.get_by_role("button", name="Save Product management").click()
    expect(page.locator("#product_management-0-communication-error")).to_be_visible()
    expect(page.locator("#product_management-0-communication")).to_have_value("9")
    page.locator("#product_management-0-communication").fill("2")
    page.get_by_role("button", name="Save Product management").click()
    expect(page.get_by_text("Saved the ladder.")).to_be_visible()
    expect(page.locator("#product_management-0-communication")).to_have_value("2")
    check_a11y(page)
    screenshot(page, "admin-ladders")


def _employee_review_id(stack: Stack, team: Team, story: dict[str, Any]) -> str:
    if "review_id" not in story:
        with httpx.Client(timeout=15) as http:
            found = http.get(
                f"{stack.url('reviews')}/v1/reviews", headers=team.headers("employee")
            ).json()["items"]
        story["review_id"] = next(r["id"] for r in found if r["cycle_id"] == story["cycle_id"])
    return str(story["review_id"])


def test_the_employee_writes_the_self_review_beside_the_packet(
    stack: Stack,
    team: Team,
    story: dict[str, Any],
    open_page: OpenPage,
    sign_in: SignIn,
    check_a11y: Check,
    screenshot: Shot,
) -> None:
    review_id = _employee_review_id(stack, team, story)
    # the goal's events reach reviews asynchronously: wait until the packet holds it
    with httpx.Client(timeout=15) as http:
        wait_for(
            "the goal in the packet",
            lambda: any(
                g["title"] == GOAL
                for g in http.get(
                    f"{stack.url('reviews')}/v1/reviews/{review_id}/packet",
                    headers=team.headers("employee"),
                ).json()["goals"]
            ),
        )
    page = open_page()
    sign_in(page, "employee", next_url="/reviews")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reviews")
    check_a11y(page)
    screenshot(page, "reviews")
    page.locator(f'a[href="/reviews/{review_id}"]').first.click()
    packet = page.locator(".review-packet")
    expect(packet.locator(".packet-goals")).to_contain_text(GOAL)

    form = page.locator(".self-review-form")
    skills = [
        "communication",
        "data_analysis",
        "leadership",
        "customer_centric",
        "industry_knowledge",
    ]
    for skill in skills:
        form.locator(f"#ratings-{skill}").select_option("3")
    form.get_by_label(f"About “{GOAL}”").fill("Twelve interviews, two product changes.")
    form.get_by_label("Comments").fill("A good half; UX is my next step.")
    # one rating missing: refused, next to its field, and what was typed stays
    form.get_by_role("button", name="Submit self review").click()
    expect(page.locator("#ratings-ux_design-error")).to_be_visible()
    form = page.locator(".self-review-form")
    expect(form.get_by_label("Comments")).to_have_value("A good half; UX is my next step.")
    expect(form.locator("#ratings-communication")).to_have_value("3")
    form.locator("#ratings-ux_design").select_option("2")
    form.get_by_role("button", name="Submit self review").click()
    expect(page.locator("#h-self + p")).to_contain_text("Submitted")

    # peers: the employee nominates the mentor
    page.get_by_label("Ines Okafor").check()
    page.get_by_role("button", name="Nominate peers").click()
    expect(page.get_by_text("waiting for your manager's approval")).to_be_visible()
    check_a11y(page)
    screenshot(page, "review-self")

    phone = open_page(width=390, height=844)
    sign_in(phone, "employee", next_url=f"/reviews/{review_id}")
    expect(phone.locator(".review-packet")).to_contain_text(GOAL)
    fits_phone(phone)
    screenshot(phone, "review-self")


def test_manager_review_calibration_release_and_acknowledgement(
    stack: Stack,
    team: Team,
    story: dict[str, Any],
    open_page: OpenPage,
    sign_in: SignIn,
    check_a11y: Check,
    screenshot: Shot,
) -> None:
    review_id = _employee_review_id(stack, team, story)
    manager = open_page()
    sign_in(manager, "manager", next_url=f"/reviews/{review_id}")
    expect(manager.locator(".self-comments")).to_have_text("A good half; UX is my next step.")
    manager.get_by_role("button", name="Approve peers").click()
    expect(manager.get_by_text("Approved peers: Ines Okafor")).to_be_visible()
    form = manager.locator(".manager-review-form")
    for skill in [
        "communication",
        "data_analysis",
        "leadership",
        "customer_centric",
        "industry_knowledge",
        "ux_design",
    ]:
        form.locator(f"#ratings-{skill}").select_option("2")
    form.get_by_label("Overall rating").select_option("3")
    form.get_by_role("button", name="Submit manager review").click()
    expect(manager.locator("#summary-error")).to_be_visible()  # refused: no summary
    expect(manager.locator("#overall_rating")).to_have_value("3")
    manager.locator(".manager-review-form").get_by_label("Summary").fill(
        "Strong discovery work; grow UX craft."
    )
    manager.get_by_role("button", name="Submit manager review").click()
    expect(manager.locator("#overall-rating")).to_have_text("3")
    check_a11y(manager)
    screenshot(manager, "review-manager")

    # someone who is nobody to the review gets the not-found page
    mentor = open_page()
    sign_in(mentor, "mentor", next_url=f"/reviews/{review_id}")
    expect(mentor.get_by_role("heading", level=1)).to_have_text("Not found")
    response = mentor.goto(f"{stack.web_url}/reviews/no-such-review")
    assert response is not None
    assert response.status == 404

    hr = open_page()
    sign_in(hr, "hr", next_url=f"/admin/cycles/{story['cycle_id']}")
    row = hr.locator(f'.calibration-row[data-review="{review_id}"]')
    row.get_by_label("Reason").fill("")
    row.get_by_role("button", name="Adjust").click()  # no rating, no reason: refused
    row = hr.locator(f'.calibration-row[data-review="{review_id}"]')
    expect(row.locator(".field-error").first).to_be_visible()
    row.locator("select").select_option("4")
    row.get_by_label("Reason").fill("Consistent with the department's peers")
    row.get_by_role("button", name="Adjust").click()
    row = hr.locator(f'.calibration-row[data-review="{review_id}"]')
    expect(row.locator(".final")).to_have_text("4")
    check_a11y(hr)
    screenshot(hr, "admin-calibration")
    hr.get_by_role("button", name="Close calibration").click()
    expect(hr.locator('tr[data-step="calibration"] .step-count')).to_have_text("closed")
    hr.get_by_role("button", name="Release").click()
    expect(hr.locator("#cycle-status")).to_have_text("released")
    expect(hr.get_by_text("Released 1 reviews.")).to_be_visible()
    assert hr.locator('a[href$="/export.csv"]').count() == 1

    employee = open_page()
    sign_in(employee, "employee", next_url=f"/reviews/{review_id}")
    expect(employee.locator(".manager-summary")).to_have_text(
        "Strong discovery work; grow UX craft."
    )
    expect(employee.locator("#final-rating")).to_have_text("4")
    employee.get_by_role("button", name="Acknowledge").click()
    expect(employee.locator(".acknowledged")).to_contain_text("You acknowledged this review")
    check_a11y(employee)
    screenshot(employee, "review-released")

    hr.goto(f"{stack.web_url}/admin/cycles/{story['cycle_id']}")
    expect(hr.locator('tr[data-step="acknowledged"] .step-count')).to_have_text("1 of 4")
    with httpx.Client(timeout=15) as http:
        csv = http.get(
            f"{stack.web_url}/admin/cycles/{story['cycle_id']}/export.csv",
            cookies={c["name"]: c["value"] for c in hr.context.cookies()},
        )
    assert csv.status_code == 200
    assert "Consistent with the department's peers" in csv.text


def test_growth_shows_the_gaps_of_a_person_with_a_level_and_a_target(
    stack: Stack,
    team: Team,
    story: dict[str, Any],
    open_page: OpenPage,
    sign_in: SignIn,
    check_a11y: Check,
    screenshot: Shot,
) -> None:
    with httpx.Client(timeout=15) as http:
        http.put(
            f"{stack.url('reviews')}/v1/people/{team.ids['employee']}/career/current",
            headers=team.headers("hr"),
            json={"level": "pm"},
        ).raise_for_status()
        ladder = http.get(
            f"{stack.url('reviews')}/v1/ladders/product_management",
            headers=team.headers("employee"),
        ).json()
    senior = next(lv for lv in ladder["levels"] if lv["id"] == "senior_pm")
    page = open_page()
    sign_in(page, "employee", next_url="/growth")
    page.get_by_label("Target level").select_option("senior_pm")
    page.get_by_role("button", name="Set target").click()
    expect(page.locator("#target-level")).to_have_text(senior["name"])
    # the released manager review rated every skill 2: the gap is what the target expects above it
    row = page.locator('tr.gap-row[data-skill="communication"]')
    expected = senior["expectations"]["communication"]
    expect(row.locator("td").first).to_have_text(str(expected))
    expect(row.locator(".gap-value")).to_have_text(f"{expected - 2:g}" if expected > 2 else "none")
    expect(page.locator(".suggested a").first).to_have_attribute(
        "href", re.compile(r"^/goals/new\?template=")
    )
    page.wait_for_function(
        "() => Chart.getChart(document.querySelector('canvas.gap-chart')) !== undefined"
    )
    check_a11y(page)
    screenshot(page, "growth")

    phone = open_page(width=390, height=844)
    sign_in(phone, "employee", next_url="/growth")
    expect(phone.locator("#target-level")).to_have_text(senior["name"])
    fits_phone(phone)
    check_a11y(phone)
    screenshot(phone, "growth")
