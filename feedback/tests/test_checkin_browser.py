"""A check-in in a real browser (Debian's chromium through Playwright): on a 360 px phone screen,
with the keyboard only, every answer target at least 44 px."""

import shutil

import pytest

from feedback.models import Answer, CheckinResponse
from feedback.testing import make_checkin
from feedback.tests.checkin_support import checkin_world

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]

ANSWERS = {"heard": 9, "my-goals": 8, "approach": 7, "pace": 10, "cared": 6, "challenged": 5,
           "say": 9, "overall": 8}


def test_a_checkin_on_a_phone_with_the_keyboard_only(live_server, world_a, monkeypatch):
    world = checkin_world(world_a)
    checkin = make_checkin(practice=world.practice, client=world.client,
                           clinician=world.clinician)
    # Playwright's sync API runs an event loop in this thread; the ORM calls stay outside it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 360, "height": 740})
        page.goto(f"{live_server.url}/c/{checkin.token}/")
        assert "Cleo would like to know" in page.content()

        sizes = page.eval_on_selector_all(
            ".scale-choice > span, .choice",
            "els => els.map(e => { const r = e.getBoundingClientRect();"
            " return Math.min(r.width, r.height) })",
        )
        assert len(sizes) == 8 * 11 + 2 and min(sizes) >= 44, min(sizes)
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow, "the page scrolls sideways at 360 px"

        def focused():
            return page.evaluate("[document.activeElement.name, document.activeElement.value]")

        keys = page.keyboard
        for _ in range(60):  # from the top of the page to the first answer
            keys.press("Tab")
            if focused()[0] == "a-heard":
                break
        for key, value in ANSWERS.items():
            assert focused()[0] == f"a-{key}"
            keys.press("Space")  # the first answer (0) ...
            for _ in range(value):
                keys.press("ArrowRight")  # ... then along the scale
            assert focused() == [f"a-{key}", str(value)]
            keys.press("Tab")
        assert focused() == ["a-rupture", "yes"]
        keys.press("ArrowDown")  # "No"
        keys.press("Tab")
        assert focused()[0] == "a-rupture-detail"
        keys.press("Tab")
        keys.type("Maybe a little slower next time.")
        keys.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Send my answers"
        keys.press("Enter")
        page.wait_for_selector("h1:has-text('Thank you')")
        browser.close()

    response = CheckinResponse.unscoped.get()
    assert response.channel == "email"
    stored = {a.item.key: (a.value, a.text) for a in Answer.unscoped.select_related("item")}
    assert {k: v for k, (v, _) in stored.items() if k in ANSWERS} == ANSWERS
    assert stored["rupture"] == (0, "")
    assert stored["do-differently"] == (None, "Maybe a little slower next time.")
