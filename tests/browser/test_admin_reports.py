"""The HR reports page: filters, a table per report, CSV downloads; accessible (axe)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, check_a11y, screenshot
from tests.browser.harness import Stack, Team, login_url, provision_team

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hr_team(stack: Stack) -> Team:
    return provision_team(stack)  # a tenant of its own: the counts are this test's only


def test_hr_reads_the_reports_filters_them_and_downloads_a_csv(
    stack: Stack, hr_team: Team, open_page: OpenPage
) -> None:
    team = hr_team
    body = {
        "title": "Run the pricing discovery",
        "horizon": "short_term",
        "category": "skill",
        "status": "active",
        "start_date": str(date.today() - timedelta(days=1)),
        "due_date": str(date.today() + timedelta(days=60)),
        "key_results": [{"title": "Interviews", "start": 0, "target": 10}],
    }
    with httpx.Client(timeout=10) as http:
        goal = http.post(
            f"{stack.url('goals')}/v1/goals", headers=team.headers("employee"), json=body
        )
        assert goal.status_code == 201, goal.text
        kr = goal.json()["key_results"][0]["id"]
        checked = http.post(
            f"{stack.url('goals')}/v1/goals/{goal.json()['id']}/check-ins",
            headers=team.headers("employee"),
            json={"key_results": {kr: 3}},
        )
        assert checked.status_code == 201, checked.text

    page = open_page()
    page.goto(login_url(stack, team.tenant, team.ids["hr"], "employee", "hr_admin"))
    page.goto(f"{stack.web_url}/admin/reports?group_by=team")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    # the read model follows the goals topic: reload until the goal and its check-in count
    participation = page.locator("#check-in-participation tfoot tr")
    for _ in range(60):
        if participation.locator("td").nth(1).inner_text() == "1":
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(participation.locator("td")).to_have_text(["1", "1", "100 %"])
    attainment = page.locator("#goal-attainment tbody tr", has_text="Morgan Lee")
    # the employee's team (their manager, Morgan Lee): one person, one goal on track
    expect(attainment.locator("td")).to_have_text(["1", "1", "0", "1", "0", "0"])
    check_a11y(page)
    screenshot(page, "admin-reports")

    # a filter: the Sales department has nobody, so no rows and empty totals
    page.get_by_label("Department").fill("Sales")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#goal-attainment tbody")).to_contain_text("No data for these filters.")
    expect(page.locator("#goal-attainment tfoot td").first).to_have_text("0")
    page.get_by_label("Department").fill("product")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#goal-attainment tfoot td").nth(1)).to_have_text("1")

    # the CSV download has the same numbers
    with page.expect_download() as info:
        page.get_by_role("link", name="Download check-in participation (CSV)").click()
    text = info.value.path().read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    total = next(r for r in rows if r["group"] == "*")
    assert (total["people_with_active_goals"], total["checked_in"], total["share"]) == (
        "1",
        "1",
        "1.0",
    )

    # a bad period is the form's error, not a server error
    page.get_by_label("From").fill("2026-12-10")
    page.get_by_label("To (included)").fill("2026-12-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#to-error")).to_contain_text("must not be before")
    check_a11y(page)


def test_an_employee_cannot_open_the_reports(stack: Stack, hr_team: Team, page: Page) -> None:
    page.goto(login_url(stack, hr_team.tenant, hr_team.ids["employee"], "employee"))
    response = page.goto(f"{stack.web_url}/admin/reports")
    assert response is not None
    assert response.status == 403
