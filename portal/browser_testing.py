"""The browser-test harness: Debian's chromium driven by Playwright against pytest-django's live
server, with an axe-core accessibility check and desktop/phone screenshots of every page a
journey visits. Fixtures live in portal/tests/browser/conftest.py; this module holds the parts
a test calls (check_a11y, shoot, seen, sign_in, TOTP helpers).

Nothing is downloaded at run time: chromium comes from apt (`apt-get install chromium`), axe-core
from npm (`npm ci`, package-lock.json). `playwright install` is never needed."""

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
AXE_JS = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
REPORTS = Path(settings.BASE_DIR) / "test-artifacts" / "axe"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
# axe impacts that fail a test; "moderate" and "minor" are reported by axe but not gated here.
BLOCKING = ("serious", "critical")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-dev-shm-usage"]


def missing_tools() -> list[str]:
    """What the browser tests need and this machine lacks (empty when all is there)."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (pip install -r requirements-dev.txt)")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        missing.append(f"Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    if not AXE_JS.exists():
        missing.append(f"axe-core at {AXE_JS.relative_to(settings.BASE_DIR)} (npm ci)")
    return missing


def require_browser_tools():
    """Skip on a dev machine without the tools; fail in CI (CI=1), where they must be there."""
    missing = missing_tools()
    if not missing:
        return
    reason = "browser tests need " + "; ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI=1: the setup must install them)", pytrace=False)
    pytest.skip(reason)


# --- Accessibility ------------------------------------------------------------------------------


def _axe_source() -> str:
    global _AXE_SOURCE
    if _AXE_SOURCE is None:
        _AXE_SOURCE = AXE_JS.read_text(encoding="utf-8")
    return _AXE_SOURCE


_AXE_SOURCE = None


def check_a11y(page, name: str) -> list[dict]:
    """Run axe-core on the page as it is now; fail on any serious or critical violation, with
    the rule ids, what they mean and the elements (CSS targets) that break them. Returns the
    non-blocking violations so a test can look at them if it wants."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Not add_script_tag: the site's CSP (rightly) blocks an inline <script>, and the test
        # keeps that CSP on so it sees what users get. evaluate() is not subject to the CSP.
        page.evaluate(_axe_source())
    results = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(" ")),
                summary: v.nodes.length ? v.nodes[0].failureSummary : "",
            }));
        }"""
    )
    blocking = [v for v in results if v["impact"] in BLOCKING]
    if blocking:
        lines = [f"axe: {len(blocking)} serious/critical violation(s) on {name} ({page.url}):"]
        for v in blocking:
            lines.append(f"  - {v['id']} [{v['impact']}]: {v['help']}")
            lines.extend(f"      at {target}" for target in v["targets"][:8])
            if v["summary"]:
                lines.append("      " + v["summary"].replace("\n", "\n      "))
        pytest.fail("\n".join(lines), pytrace=False)
    return [v for v in results if v["impact"] not in BLOCKING]


# --- Screenshots --------------------------------------------------------------------------------


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def shoot(page, name: str) -> list[Path]:
    """Full-page screenshots at desktop (1280 px) and phone (360 px) width, saved as
    test-artifacts/screenshots/<name>-desktop.png and -phone.png. Also fails if the page
    scrolls sideways on the phone, which makes it hard to read there."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    paths = []
    try:
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            path = SCREENSHOTS / f"{_slug(name)}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 1000, f"empty screenshot {path}"
            paths.append(path)
            if label == "phone":
                wide = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert wide <= 1, f"{name} ({page.url}) scrolls sideways by {wide} px at 360 px"
    finally:
        if before:
            page.set_viewport_size(before)
    return paths


def watch_console(page) -> None:
    """Keep the page's Content-Security-Policy reports: a blocked script or style is a broken
    page for users, so seen() fails on one."""
    page.csp_violations = []

    def on_console(message):
        if message.type == "error" and "Content Security Policy" in message.text:
            page.csp_violations.append(message.text)

    page.on("console", on_console)


def seen(page, name: str) -> None:
    """A page a journey visits: it passes axe, breaks no CSP rule, and it is photographed at
    both widths."""
    page.wait_for_load_state("load")
    minor = check_a11y(page, name)
    # The moderate/minor findings, kept next to the screenshots for whoever polishes the UI.
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{_slug(name)}.json").write_text(dump({"url": page.url, "violations": minor}))
    violations = getattr(page, "csp_violations", [])
    assert not violations, f"CSP blocked something on {name} ({page.url}):\n" + "\n".join(violations)
    shoot(page, name)


# --- Signing in (allauth, with TOTP) -------------------------------------------------------------


def enroll_totp(user) -> str:
    """The user's authenticator secret, activated through allauth's TOTP.activate if they have
    none yet (accounts.mfa; staff made by the factories already have one)."""
    from accounts.mfa import enroll_totp as enroll

    return enroll(user)


def totp_code(secret: str) -> str:
    """The current code for a secret. Waits for the next 30 s period when this one is about to
    end, since allauth (tolerance 0) accepts only the current period's code."""
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    period = app_settings.TOTP_PERIOD
    if period - time.time() % period < 4:
        time.sleep(period - time.time() % period + 0.2)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


MFA_AUTHENTICATE = "/accounts/2fa/authenticate/"
TOTP_ACTIVATE = "/accounts/2fa/totp/activate/"
REAUTHENTICATE = "/accounts/reauthenticate/"


def submit_field(page, field: str, value: str) -> None:
    """Fill `field` in the form that has it and submit that form, waiting for the next page."""
    form = page.locator(f"form:has(input[name='{field}'])")
    form.locator(f"input[name='{field}']").fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").first.click()


def sign_in(page, base_url: str, email: str, password: str, *, totp_secret: str | None = None,
            name: str | None = None) -> str | None:
    """Sign in through /accounts/login/, then allauth's two-factor page when asked. If the site
    sends the user to set up an authenticator (MFA required for staff), read the secret off the
    activation page and activate it. Returns the TOTP secret in use (None without one).
    `name` photographs and axe-checks the sign-in pages under that prefix."""
    page.goto(f"{base_url}/accounts/login/")
    if name:
        seen(page, f"{name}-sign-in")
    page.fill("input[name='login']", email)
    submit_field(page, "password", password)
    if MFA_AUTHENTICATE in page.url:
        assert totp_secret, f"{email} was asked for a two-factor code but has no authenticator"
        if name:
            seen(page, f"{name}-two-factor")
        submit_field(page, "code", totp_code(totp_secret))
    totp_secret = complete_totp_setup_if_asked(page, totp_secret, password=password, name=name)
    assert "/accounts/login/" not in page.url, f"sign-in failed for {email}: {page.url}"
    return totp_secret


def complete_totp_setup_if_asked(page, totp_secret: str | None = None, *,
                                 password: str | None = None, name: str | None = None):
    """When the site requires an authenticator and sends the user to allauth's activation page,
    do what a person does: confirm the password if allauth asks first (it does when the sign-in
    was not its own, e.g. right after accepting an invitation), copy the secret shown, type the
    app's code."""
    if REAUTHENTICATE in page.url and password:
        if name:
            seen(page, f"{name}-confirm-password")
        submit_field(page, "password", password)
    if TOTP_ACTIVATE not in page.url:
        return totp_secret
    if name:
        seen(page, f"{name}-two-factor-setup")
    secret = page.locator("#authenticator_secret").input_value().replace(" ", "")
    assert secret, "the authenticator page shows no secret"
    submit_field(page, "code", totp_code(secret))
    assert TOTP_ACTIVATE not in page.url, "activating the authenticator failed"
    return secret


def nav(page, name: str) -> None:
    """Follow a link in the main navigation (on a phone the header wraps; it stays reachable).
    Not an exact name: "Home" may carry a "2 new" badge."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
    page.wait_for_load_state("load")


def expect_message(page, text: str) -> None:
    """The confirmation a form shows once it saved (Django messages, role=status)."""
    messages = page.locator(".messages")
    messages.wait_for()
    assert text in messages.inner_text(), messages.inner_text()


# Session check-in answers a journey gives (all 8 core items, 0-10).
CHECKIN_ANSWERS = {"heard": 9, "my-goals": 8, "approach": 9, "pace": 7, "cared": 10,
                   "challenged": 8, "say": 9, "overall": 9}


def answer_checkin(page, answers: dict = CHECKIN_ANSWERS, *, rupture="no", text="") -> None:
    """Fill in the session check-in by clicking its answers, send it, wait for the thanks."""
    for key, value in answers.items():
        page.check(f"input[name='a-{key}'][value='{value}']")
    page.check(f"input[name='a-rupture'][value='{rupture}']")
    if text:
        page.fill("textarea[name='a-do-differently']", text)
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_selector("h1:has-text('Thank you')")


def link_in(message, base_url: str) -> str:
    """The first link to this site in an e-mail."""
    match = re.search(re.escape(base_url) + r"/\S+", message.body)
    assert match, f"no link to {base_url} in:\n{message.body}"
    return match.group(0).rstrip(".,)>")


def dump(obj) -> str:  # for readable assertion messages
    return json.dumps(obj, indent=2, default=str)
