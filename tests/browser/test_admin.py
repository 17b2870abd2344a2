"""Issue 14, browser test 4 and the HR admin pages: imports, org chart, tokens, KPI, webhooks.

The admin tests run in a tenant of their own: an import's full sync deactivates whoever is
missing from the export, which must not touch the people the other browser tests sign in as.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
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

FIRST_EXPORT = """employee_id,email,first_name,last_name,job_title,department,manager_id
Q1,quinn.avery@{domain},Quinn,Avery,Group PM,Product,
R1,riley.chen@{domain},Riley,Chen,Associate PM,Product,Q1
"""
SECOND_EXPORT = FIRST_EXPORT.replace(",Product,Q1", ",Product,S1") + (
    "S1,sky.patel@{domain},Sky,Patel,Director of Product,Product,\n"
)


@pytest.fixture(scope="module")
def admins(stack: Stack) -> Team:
    return provision_team(stack)


@pytest.fixture
def hr_page(stack: Stack, admins: Team, open_page: OpenPage) -> Page:
    page = open_page()
    page.goto(login_url(stack, admins.tenant, admins.ids["hr"], *ADMIN_ROLES))
    return page


def upload(page: Page, tmp_path: Path, text: str, *, full_sync: bool) -> None:
    export = tmp_path / "export.csv"
    export.write_text(text)
    page.get_by_label("CSV export of your HR system").set_input_files(str(export))
    page.get_by_label("Deactivate people missing from the export").set_checked(full_sync)
    page.get_by_role("button", name="Show the changes").click()


def org_chart_reports(page: Page, manager: str) -> list[str]:
    """The names listed under ``manager`` in the org chart."""
    node = page.locator(".org-chart li", has=page.locator(".org-person", has_text=manager)).last
    return node.locator(":scope > ul > li > .org-person").all_inner_texts()


def test_an_import_shows_its_dry_run_diff_then_the_org_chart_shows_the_new_manager(
    stack: Stack,
    admins: Team,
    hr_page: Page,
    tmp_path: Path,
    check_a11y: Check,
    screenshot: Shot,
) -> None:
    page = hr_page
    domain = f"{admins.tenant}.example"
    page.goto(f"{stack.web_url}/admin/imports")
    check_a11y(page)
    screenshot(page, "admin-imports")
    upload(page, tmp_path, FIRST_EXPORT.format(domain=domain), full_sync=False)
    expect(page.locator(".import-diff .summary")).to_contain_text("2 to create")
    # a dry run: nobody exists yet
    with httpx.Client(timeout=10) as http:
        found = http.get(
            f"{stack.url('people')}/v1/people",
            params={"q": "riley"},
            headers=admins.headers("hr"),
        ).json()
    assert found["items"] == []
    page.get_by_role("button", name="Confirm the import").click()
    expect(page.get_by_role("status")).to_contain_text("Import applied: 2 created")
    page.get_by_role("link", name="See the org chart").click()
    expect(page.locator(".org-chart")).to_contain_text("Riley Chen")
    assert org_chart_reports(page, "Quinn Avery") == ["Riley Chen"]

    # Riley moves to a new manager: the diff names both, the chart follows after confirming
    page.goto(f"{stack.web_url}/admin/imports")
    upload(page, tmp_path, SECOND_EXPORT.format(domain=domain), full_sync=False)
    change = page.locator(".manager-change")
    expect(change).to_have_text("Riley Chen: Quinn Avery → Sky Patel")
    check_a11y(page)
    screenshot(page, "admin-import-diff")
    page.get_by_role("button", name="Confirm the import").click()
    expect(page.get_by_role("status")).to_contain_text("1 manager changes")
    page.goto(f"{stack.web_url}/admin/people")
    assert org_chart_reports(page, "Sky Patel") == ["Riley Chen"]
    assert org_chart_reports(page, "Quinn Avery") == []
    check_a11y(page)
    screenshot(page, "admin-people")


def test_the_mass_deactivation_guard_needs_an_explicit_force(
    stack: Stack, admins: Team, hr_page: Page, tmp_path: Path, check_a11y: Check
) -> None:
    page = hr_page
    page.goto(f"{stack.web_url}/admin/imports")
    # a full sync of an export without the team: everyone else would be deactivated
    lone = "employee_id,email,first_name,last_name\nZ9,zed@elsewhere.example,Zed,Solo\n"
    upload(page, tmp_path, lone, full_sync=True)
    expect(page.get_by_role("alert")).to_contain_text("Mass deactivation guard")
    page.get_by_role("button", name="Confirm the import").click()
    expect(page.locator("#force-error")).to_contain_text("tick this box")
    expect(page.get_by_label(re.compile("apply it even though"))).to_be_visible()
    check_a11y(page)
    with httpx.Client(timeout=10) as http:
        people = http.get(
            f"{stack.url('people')}/v1/people",
            params={"active": "true", "limit": 200},
            headers=admins.headers("hr"),
        ).json()["items"]
    # refused: the team is still active, and Zed was not created
    assert admins.ids["employee"] in {p["id"] for p in people}
    assert "zed@elsewhere.example" not in {p["user_name"] for p in people}


def test_hr_deactivates_a_person_after_confirming(
    stack: Stack, admins: Team, hr_page: Page
) -> None:
    page = hr_page
    mentor = admins.ids["mentor"]
    page.goto(f"{stack.web_url}/admin/people?q=ines")
    page.get_by_role("link", name="Deactivate Ines Okafor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Deactivate Ines Okafor?")
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("status")).to_contain_text("deactivated")
    with httpx.Client(timeout=10) as http:
        person = http.get(
            f"{stack.url('people')}/v1/people/{mentor}", headers=admins.headers("hr")
        ).json()
    assert person["active"] is False


def test_a_scim_token_is_shown_once_works_and_stops_working_when_revoked(
    stack: Stack, hr_page: Page, check_a11y: Check, screenshot: Shot
) -> None:
    page = hr_page
    page.goto(f"{stack.web_url}/admin/tokens")
    page.get_by_label("Name of the new token").fill("Okta production")
    page.get_by_role("button", name="Issue a token").click()
    token = page.locator(".secret-once .secret").inner_text()
    check_a11y(page)
    screenshot(page, "admin-tokens")
    users = f"{stack.url('people')}/scim/v2/Users"
    with httpx.Client(timeout=10) as http:
        auth = {"Authorization": f"Bearer {token}"}
        assert http.get(users, headers=auth).status_code == 200
        page.goto(f"{stack.web_url}/admin/tokens")
        # shown once: the list never holds the token itself
        assert token not in page.content()
        page.get_by_role("button", name="Revoke Okta production").click()
        expect(page.locator("tr", has_text="Okta production")).to_contain_text("Revoked")
        assert http.get(users, headers=auth).status_code == 401


def test_a_kpi_source_s_signed_example_is_accepted_and_the_series_is_charted(
    stack: Stack, admins: Team, hr_page: Page, check_a11y: Check, screenshot: Shot
) -> None:
    page = hr_page
    page.goto(f"{stack.web_url}/admin/kpi")
    page.get_by_label("Source name").fill("Nightly adoption script")
    page.get_by_role("button", name="Create the source").click()
    example = page.locator("#signed-example").inner_text()
    expect(page.locator(".webhook-url")).to_contain_text("/v1/webhooks/")
    check_a11y(page)
    screenshot(page, "admin-kpi-secret")
    # the copy-paste example, run as a user would: bash, curl and openssl sign and send it
    sent = subprocess.run(
        ["bash", "-c", example], capture_output=True, text=True, timeout=30, check=True
    )
    assert '"accepted":1' in sent.stdout.replace(" ", ""), sent.stdout + sent.stderr

    # the series is built by kpi-ingest's own consumer: reload until the point is in it
    deadline = time.monotonic() + 30
    while True:
        page.goto(f"{stack.web_url}/admin/kpi")
        if page.locator("canvas.series-chart-canvas").count() > 0:
            break
        assert time.monotonic() < deadline, "the adoption series was never charted"
        page.wait_for_timeout(500)
    page.wait_for_function(
        """() => {
            const chart = Chart.getChart(document.querySelector("canvas.series-chart-canvas"));
            return chart && chart.data.datasets[0].data.includes(12);
        }"""
    )
    # rotation shows a new secret once; the old one keeps verifying for the grace period
    page.get_by_role("button", name="Rotate the secret of Nightly adoption script").click()
    expect(page.locator(".secret-once")).to_contain_text("previous secret keeps verifying")
    check_a11y(page)
    screenshot(page, "admin-kpi")


def test_metric_and_webhook_forms_keep_what_was_typed_and_show_the_problem(
    stack: Stack, hr_page: Page, check_a11y: Check, screenshot: Shot
) -> None:
    page = hr_page
    page.goto(f"{stack.web_url}/admin/kpi")
    page.get_by_label("Key", exact=True).fill("nps_score")
    page.get_by_label("Name", exact=True).fill("Net promoter score")
    page.get_by_label("Thresholds").fill("30, lots")
    page.get_by_role("button", name="Save the metric").click()
    expect(page.locator("#thresholds-error")).to_contain_text("numbers separated by commas")
    expect(page.get_by_label("Key", exact=True)).to_have_value("nps_score")
    page.get_by_label("Thresholds").fill("30, 50")
    page.get_by_role("button", name="Save the metric").click()
    expect(page.locator(".data-table", has_text="nps_score")).to_contain_text("30.0, 50.0")

    page.goto(f"{stack.web_url}/admin/webhooks")
    page.get_by_label("Receiver URL (https)").fill("http://127.0.0.1:9/hook")
    page.get_by_label("Event types").fill("northstar.goal.*")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#url-error")).to_be_visible()
    expect(page.get_by_label("Event types")).to_have_value("northstar.goal.*")
    check_a11y(page)
    # a global address literal: accepted, its secret shown once, then deleted
    page.get_by_label("Receiver URL (https)").fill("https://93.184.215.14/northstar")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator(".secret-once .secret")).to_contain_text("whsec_")
    screenshot(page, "admin-webhooks")
    page.get_by_role("button", name="Delete https://93.184.215.14/northstar").click()
    expect(page.locator(".data-table")).to_contain_text("No subscriptions yet.")


@pytest.mark.parametrize(
    "path",
    [
        "/admin/people",
        "/admin/imports",
        "/admin/tokens",
        "/admin/api-keys",
        "/admin/kpi",
        "/admin/webhooks",
    ],
)
def test_admin_pages_refuse_an_employee_and_fit_a_phone(
    stack: Stack,
    admins: Team,
    open_page: OpenPage,
    path: str,
    check_a11y: Check,
    screenshot: Shot,
) -> None:
    employee = open_page()
    employee.goto(login_url(stack, admins.tenant, admins.ids["employee"], "employee"))
    response = employee.goto(f"{stack.web_url}{path}")
    assert response is not None
    assert response.status == 403
    expect(employee.get_by_role("heading", level=1)).to_have_text("Not allowed")

    phone = open_page(width=390, height=844)
    phone.goto(login_url(stack, admins.tenant, admins.ids["hr"], *ADMIN_ROLES))
    answered = phone.goto(f"{stack.web_url}{path}")
    assert answered is not None
    assert answered.status == 200
    # readable at 390 px: nothing wider than the screen but scrollable tables
    overflow = phone.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 390, f"{path} is {overflow} px wide on a phone"
    check_a11y(phone)
    screenshot(phone, "admin" + path.replace("/", "-")[6:])


def test_an_api_key_is_shown_once_works_within_its_scope_and_stops_when_revoked(
    stack: Stack, hr_page: Page, check_a11y: Check, screenshot: Shot
) -> None:
    page = hr_page
    page.goto(f"{stack.web_url}/admin/api-keys")
    page.get_by_label("Name of the new key").fill("Nightly KPI script")
    page.get_by_label(re.compile(r"\(kpi:read\)")).check()
    page.get_by_label("Expires in").select_option("30")
    page.get_by_role("button", name="Create a key").click()
    key = page.locator(".secret-once .secret").inner_text()
    assert key.startswith("nsk_")
    check_a11y(page)
    screenshot(page, "admin-api-keys")
    metrics = f"{stack.url('kpi_ingest')}/v1/metrics"
    sources = f"{stack.url('kpi_ingest')}/v1/sources"
    with httpx.Client(timeout=10) as http:
        auth = {"Authorization": f"Bearer {key}"}
        assert http.get(metrics, headers=auth).status_code == 200
        # within its scope only: kpi:read reads, and writes nothing
        assert http.post(sources, json={"name": "x"}, headers=auth).status_code == 403
        page.goto(f"{stack.web_url}/admin/api-keys")
        # shown once: the list never holds the key itself; its use is recorded
        assert key not in page.content()
        row = page.locator("tr", has_text="Nightly KPI script")
        expect(row).to_contain_text("kpi:read")
        expect(row).to_contain_text("Active")
        expect(row).not_to_contain_text("Never")
        page.get_by_role("link", name="Revoke Nightly KPI script").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Revoke the API key Nightly KPI script?"
        )
        check_a11y(page)
        page.get_by_role("button", name="Revoke").click()
        expect(page.get_by_role("status")).to_contain_text("revoked")
        expect(page.locator("tr", has_text="Nightly KPI script")).to_contain_text("Revoked")
        # refused once the services' short cache (1 s in this stack) has expired
        deadline = time.monotonic() + 15
        while http.get(metrics, headers=auth).status_code != 401:
            assert time.monotonic() < deadline, "the revoked key still works"
            time.sleep(0.3)
