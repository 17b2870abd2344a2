"""Browser tests: real Chromium (Debian's) driven by Playwright against the real stack.

Fixtures for page authors (all in this file):

- ``stack`` (package): every service and web as processes on free ports, with their own topics
  and databases; ``stack.url("goals")``, ``stack.web_url``.
- ``team`` (package): a tenant provisioned over SCIM (employee → manager, mentor paired, HR admin):
  ``team.ids["employee"]``, ``team.emails[...]``, ``team.headers("hr")`` for API calls.
- ``page`` (test): a fresh browser context at 1440 by 900; console errors and page errors fail the
  test at teardown. ``open_page(width=390)`` opens another context (a second person, a phone).
- ``sign_in(page, "employee", next_url="/")``: signs the page in with a one-time login URL.
- ``check_a11y(page)``: axe-core; fails on any serious or critical violation.
- ``screenshot(page, "dashboard")``: saves tests/browser/screenshots/<name>-<width>.png (ignored).

``harness.py`` has the API helpers: ``provision_team``, ``create_kpi_source``, ``push_kpi``,
``login_url``.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
    expect,
    sync_playwright,
)

from tests.browser.harness import Stack, Team, login_url, provision_team, start_stack, stop_stack

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).parent / "screenshots"
# generous waits: the suite shares two cores with Kafka, the store and six services; a wait ends
# as soon as its condition holds, so this costs nothing when the machine is quiet
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)
DESKTOP = {"width": 1440, "height": 900}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # the first browser test also pays for starting the stack (about a minute on a quiet
    # machine, several on a busy one): a per-test limit above the suite's default of 300 s
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(600))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # pytest then tears the session down: no orphaned services


# package scope: the stack stops after the last browser test; left running to the session's end,
# its idle services polled the store and the broker beside every later test
@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # a `timeout` or CI cancel sends SIGTERM, which would otherwise skip the teardown below
    previous = signal.signal(signal.SIGTERM, _interrupt)
    started = start_stack(tmp_path_factory.mktemp("browser-stack"))
    try:
        yield started
    finally:
        stop_stack(started)
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="package")
def team(stack: Stack) -> Team:
    return provision_team(stack)


# module scope: the sync API keeps an event loop running in this thread while it lives, and
# every async test after the browser modules needs that thread's loop free again
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is missing: deploy/tools/install.sh installs it (apt-get)")
    launched = playwright.chromium.launch(
        executable_path=executable, headless=True, args=["--no-sandbox"]
    )
    try:
        yield launched
    finally:
        launched.close()


class ConsoleErrors:
    """Every console error and uncaught page error of the pages it watches."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        # pages answered 4xx on purpose (a 404 page, a 403 page): the test checks their status
        self._error_pages: set[str] = set()

    def watch(self, page: Page) -> Page:
        def on_response(response: Response) -> None:
            if response.request.resource_type == "document" and response.status >= 400:
                self._error_pages.add(response.url)

        def on_console(message: ConsoleMessage) -> None:
            if message.type != "error":
                return
            where = message.location.get("url", "")
            if message.text.startswith("Failed to load resource") and where in self._error_pages:
                return
            self.errors.append(f"{page.url}: {message.text} ({where})")

        page.on("response", on_response)
        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        return page


OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    watcher = ConsoleErrors()
    contexts = []

    def open_(width: int = DESKTOP["width"], height: int = DESKTOP["height"]) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return watcher.watch(context.new_page())

    yield open_
    for context in contexts:
        context.close()
    assert not watcher.errors, "browser console errors:\n" + "\n".join(watcher.errors)


@pytest.fixture
def page(open_page: OpenPage) -> Page:
    return open_page()


SignIn = Callable[..., None]


@pytest.fixture
def sign_in(stack: Stack, team: Team) -> SignIn:
    def sign_in_(
        page: Page, who: str, *, next_url: str = "", roles: list[str] | None = None
    ) -> None:
        url = login_url(
            stack, team.tenant, team.ids[who], *(roles or team.roles(who)), next_url=next_url
        )
        page.goto(url)
        page.wait_for_load_state("load")

    return sign_in_


def check_a11y(page: Page) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"axe on {page.url}:\n" + "\n".join(bad)


@pytest.fixture(name="check_a11y")
def check_a11y_fixture() -> Callable[[Page], None]:
    return check_a11y


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(name="screenshot")
def screenshot_fixture() -> Callable[[Page, str], Path]:
    return screenshot
