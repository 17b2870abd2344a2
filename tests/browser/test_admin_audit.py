"""Issue 16's audit trail in the browser: an audited action found through ``/admin/audit``.

An HR admin issues a SCIM token on ``/admin/tokens``; 25 more tokens issued over the API push
its record to the search's second page (25 records a page, newest first); the page's filters
(actor, action, object, time range) find it, its row says who, what, when, on which object,
with which request; the CSV export holds it too. A tenant of its own, so the counts are known.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage
from tests.browser.harness import Stack, Team, login_url, provision_team

pytestmark = pytest.mark.integration

Check = Callable[[Page], None]
Shot = Callable[[Page, str], Path]
ADMIN_ROLES = ("employee", "hr_admin", "admin")
PAGE_SIZE = 25  # services/web/pages/admin_audit.py


@pytest.fixture(scope="module")
def auditors(stack: Stack) -> Team:
    return provision_team(stack)


def _utc_minute(at: datetime) -> str:
    """What a ``datetime-local`` input holds: the minute, no offset (the page reads it as UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _search(page: Page, **filters: str) -> None:
    labels = {
        "actor": "Actor",
        "action": "Action",
        "object_type": "Object type",
        "object_id": "Object id",
        "from": "From (UTC)",
        "to": "Until (UTC, not included)",
    }
    for name, value in filters.items():
        page.get_by_label(labels[name], exact=True).fill(value)
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state("load")


def _rows(page: Page) -> int:
    return page.locator(".audit-table tbody tr", has=page.locator("time")).count()


def test_an_issued_scim_token_is_found_in_the_audit_trail_through_the_filters_and_pages(
    stack: Stack,
    auditors: Team,
    open_page: OpenPage,
    check_a11y: Check,
    screenshot: Shot,
) -> None:
    hr = auditors.ids["hr"]
    started = datetime.now(UTC) - timedelta(minutes=1)
    page = open_page()
    page.goto(login_url(stack, auditors.tenant, hr, *ADMIN_ROLES))
    page.goto(f"{stack.web_url}/admin/tokens")
    page.get_by_label("Name of the new token").fill("Audited Okta")
    page.get_by_role("button", name="Issue a token").click()
    expect(page.locator(".secret-once")).to_be_visible()
    headers = auditors.headers("hr", *ADMIN_ROLES)
    people = stack.url("people")
    with httpx.Client(timeout=15) as http:
        tokens = http.get(f"{people}/v1/scim-tokens", headers=headers).json()["items"]
        token_id = next(t["token_id"] for t in tokens if t["name"] == "Audited Okta")
        for n in range(PAGE_SIZE):  # newer records of the same actor and action
            http.post(
                f"{people}/v1/scim-tokens", headers=headers, json={"name": f"bulk {n}"}
            ).raise_for_status()
    until = datetime.now(UTC) + timedelta(minutes=2)

    page.goto(f"{stack.web_url}/admin/audit")
    expect(page.get_by_role("link", name="Audit trail")).to_have_attribute("aria-current", "page")
    # the records arrive through Kafka into people's read model: search until all are in
    deadline = time.monotonic() + 60
    while True:
        _search(
            page,
            actor=hr,
            action="scim_token.issued",
            object_type="scim_token",
            **{"from": _utc_minute(started), "to": _utc_minute(until)},
        )
        older = page.get_by_role("link", name="Older records")
        if _rows(page) == PAGE_SIZE and older.count():  # 26 records: all have arrived
            break
        assert time.monotonic() < deadline, "the audit records did not all arrive in 60 s"
        page.wait_for_timeout(500)
    # page 1: the 25 newest, the first token's record is not among them
    assert token_id not in page.content()
    check_a11y(page)
    screenshot(page, "admin-audit")

    older.click()
    page.wait_for_load_state("load")
    assert _rows(page) == 1
    row = page.locator(".audit-table tbody tr").first
    expect(row).to_contain_text("Harper Reyes")  # who: the person, by name
    expect(row).to_contain_text("scim_token.issued")
    expect(row).to_contain_text(token_id)
    expect(row).to_contain_text("Audited Okta")  # the name in the record's after
    expect(row).to_contain_text("Request")
    # the filters travel with the page
    expect(page.get_by_label("Action", exact=True)).to_have_value("scim_token.issued")
    expect(page.get_by_role("link", name="Older records")).to_have_count(0)
    expect(page.get_by_role("link", name="Newest records")).to_be_visible()
    check_a11y(page)

    # the object's own filter finds exactly its record, and the CSV export holds it
    page.goto(f"{stack.web_url}/admin/audit")
    _search(page, object_type="scim_token", object_id=token_id)
    assert _rows(page) == 1
    csv_url = page.get_by_role("link", name="Export this search as CSV").get_attribute("href")
    assert csv_url is not None
    exported = page.request.get(f"{stack.web_url}{csv_url}")
    assert exported.status == 200
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text().strip().splitlines()
    assert len(lines) == 2
    assert token_id in lines[1]

    # a time range before the action finds nothing; a refused range says why, next to "From"
    _search(page, **{"from": _utc_minute(started - timedelta(hours=2)), "to": _utc_minute(started)})
    assert _rows(page) == 0
    expect(page.locator(".audit-table")).to_contain_text("No records match.")
    _search(page, **{"from": _utc_minute(until), "to": _utc_minute(started)})
    expect(page.locator("#from-error")).to_contain_text("before")
    check_a11y(page)


def test_an_employee_gets_the_403_page_and_the_page_fits_a_phone(
    stack: Stack, auditors: Team, open_page: OpenPage, check_a11y: Check
) -> None:
    employee = open_page()
    employee.goto(login_url(stack, auditors.tenant, auditors.ids["employee"], "employee"))
    for path in ("/admin/audit", "/admin/audit.csv"):
        response = employee.goto(f"{stack.web_url}{path}")
        assert response is not None
        assert response.status == 403
        expect(employee.get_by_role("heading", level=1)).to_have_text("Not allowed")

    phone = open_page(width=390, height=844)
    phone.goto(login_url(stack, auditors.tenant, auditors.ids["hr"], *ADMIN_ROLES))
    answered = phone.goto(f"{stack.web_url}/admin/audit")
    assert answered is not None
    assert answered.status == 200
    overflow = phone.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 390, f"/admin/audit is {overflow} px wide on a phone"
    check_a11y(phone)
