"""A check-in in a real browser on a 360 px phone screen, with the keyboard only: every answer
target at least 44 px, nothing scrolls sideways, and the page passes axe before and after."""

import pytest

from feedback.models import Answer, CheckinResponse
from feedback.testing import make_checkin
from feedback.tests.checkin_support import checkin_world
from portal import browser_testing as bt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANSWERS = {"heard": 9, "my-goals": 8, "approach": 7, "pace": 10, "cared": 6, "challenged": 5,
           "say": 9, "overall": 8}


def test_a_checkin_on_a_phone_with_the_keyboard_only(world_a, live, new_page):
    world = checkin_world(world_a)
    checkin = make_checkin(practice=world.practice, client=world.client,
                           clinician=world.clinician)
    page = new_page(viewport=bt.PHONE)
    page.goto(f"{live}/c/{checkin.token}/")
    assert "Cleo would like to know" in page.content()
    bt.check_a11y(page, "check-in (keyboard)")

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
    bt.check_a11y(page, "check-in thank-you (keyboard)")

    response = CheckinResponse.unscoped.get()
    assert response.channel == "email"
    stored = {a.item.key: (a.value, a.text) for a in Answer.unscoped.select_related("item")}
    assert {k: v for k, (v, _) in stored.items() if k in ANSWERS} == ANSWERS
    assert stored["rupture"] == (0, "")
    assert stored["do-differently"] == (None, "Maybe a little slower next time.")
