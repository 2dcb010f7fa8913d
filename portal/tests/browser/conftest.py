"""Fixtures for the browser journeys: a live server on the test database, Debian's chromium and
a fresh browser context (cookies, viewport) per person in a journey. The helpers a test calls
(seen, check_a11y, shoot, sign_in) are in portal/browser_testing.py."""

import pytest
from django.db import connections

from portal import browser_testing as bt


@pytest.fixture(autouse=True)
def _browser_tools():
    bt.require_browser_tools()


@pytest.fixture
def live(live_server, settings, monkeypatch):
    """The live server's base URL. E-mailed links point at it, as they would in production."""
    settings.SITE_URL = live_server.url
    # Playwright's sync API runs an event loop in this thread; the ORM calls stay outside it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return live_server.url


@pytest.fixture
def browser(live):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=bt.CHROMIUM, args=bt.LAUNCH_ARGS)
        yield browser
        browser.close()
        # While Playwright's loop runs, the test's ORM calls get connections of their own
        # context: give them back here, or one keeps the test database in use at the end.
        connections.close_all()


@pytest.fixture
def new_page(browser, request):
    """new_page(): a page in its own context, so two people can use the site side by side.
    On failure each page is photographed as test-artifacts/screenshots/FAILED-<test>-<n>.png."""
    pages = []
    for old in bt.SCREENSHOTS.glob(f"FAILED-{request.node.name}-*.png"):
        old.unlink()

    def make(viewport=bt.DESKTOP):
        context = browser.new_context(viewport=viewport, locale="en-GB")
        context.set_default_timeout(15_000)
        page = context.new_page()
        bt.watch_console(page)
        pages.append(page)
        return page

    yield make
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        bt.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for n, page in enumerate(pages):
            try:
                page.screenshot(path=str(bt.SCREENSHOTS / f"FAILED-{request.node.name}-{n}.png"),
                                full_page=True)
            except Exception:  # a crashed page has nothing to show; the failure says enough
                pass
    for page in pages:
        page.context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report  # read by new_page's teardown
    return report
