"""The history charts on the staff client page: accessible SVG, the table alternative, reliable-
change and rupture markers where hand-computed, check-ins entered in error listed but not
charted; the crisis resources after a check-in."""

import re

import pytest
from django.test import Client as HttpClient

from feedback.models import CheckinResponse
from feedback.selectors.history import DETERIORATED, IMPROVED, RUPTURE, client_history
from feedback.services import mark_entered_in_error
from feedback.testing import form_answers, latest_version, make_checkin
from feedback.tests.alerts_support import Answering, phq9_answers, with_instruments
from feedback.tests.checkin_support import checkin_world

pytestmark = pytest.mark.django_db


def _section(page: str, name: str) -> str:
    start = page.index(f"<h3>{name}")
    end = page.find("<h3>", start + 4)
    return page[start:end if end != -1 else len(page)]


@pytest.fixture
def history(world_a):
    """PHQ-9 totals 18, 15 (entered in error), 12, 24; session check-ins 10, 10, 8, 10."""
    with_instruments(world_a)
    answering = Answering(world_a)
    phq = [answering.phq9(total) for total in (18, 15, 12, 24)]
    alliance = [answering.alliance(v) for v in (10, 10, 8, 10)]
    with world_a.scope():
        mark_entered_in_error(
            practice=world_a.practice, actor=world_a.clinician, response=phq[1],
            reason="Answered for the wrong week",
        )
    return phq, alliance


def test_markers_hand_computed(world_a, history):
    phq, alliance = history
    with world_a.scope():
        series = {s.instrument.key: s for s in client_history(world_a.client)["series"]}
    outcome = series["phq9"]
    # Baseline 18 (the first counted); PHQ-9 reliable change is 6 points, lower is better:
    # 12 is 6 lower (reliably improved), 24 is 6 higher (reliably worse). 15 is in error.
    assert [(p.score, p.marker) for p in outcome.points] == [
        (18, ""), (12, IMPROVED), (24, DETERIORATED)
    ]
    assert [r.pk for r in outcome.errors] == [phq[1].pk]
    # Alliance: 8 is below 9 and down 2 from 10: a rupture point; nothing else is.
    assert [(p.score, p.marker) for p in series["session-checkin"].points] == [
        (10, ""), (10, ""), (8, RUPTURE), (10, "")
    ]
    assert series["session-checkin"].is_alliance and series["session-checkin"].cutoff == 9.0


def test_the_page_has_accessible_svg_and_a_table(world_a, history, as_member):
    page = as_member(world_a.clinician).get(world_a.url(f"clients/{world_a.client.pk}/")).content.decode()
    assert 'style="' not in page
    phq9 = _section(page, "PHQ-9")
    assert 'role="img"' in phq9 and "<title id=" in phq9 and "<desc id=" in phq9
    assert "1 point reliably improved" in phq9 and "1 reliably worse" in phq9
    assert phq9.count('class="rc-improved"') == 1 and phq9.count('class="rc-deteriorated"') == 1
    table = phq9[phq9.index("<tbody>"):phq9.index("</tbody>")]
    assert table.count("<tr>") == 3  # the responses not in error
    assert "1 check-in entered in error" in phq9 and "Answered for the wrong week" in phq9
    assert "does not rule out risk" in phq9
    alliance = _section(page, "Session check-in")
    assert alliance.count('class="rupture-point"') == 1
    assert "1 possible rupture marked" in alliance
    table = alliance[alliance.index("<tbody>"):alliance.index("</tbody>")]
    assert table.count("<tr>") == 4


def test_no_history_yet(world_a, as_member):
    page = as_member(world_a.clinician).get(world_a.url(f"clients/{world_a.client.pk}/")).content.decode()
    assert "No check-ins answered yet." in page


def test_crisis_resources_after_a_positive_item_9(world_a):
    world = checkin_world(world_a)
    version = latest_version(world.practice, "phq9")
    checkin = make_checkin(practice=world.practice, client=world.client, version=version)
    answers = {f"a-{k}": str(v) for k, v in phq9_answers(14, item9=1).items()}
    page = HttpClient().post(f"/c/{checkin.token}/", answers).content.decode()
    assert "If you need help right now" in page and "immediate danger" in page
    assert CheckinResponse.unscoped.get().safety_item_positive


def test_quiet_crisis_note_after_phq9_with_item_9_at_0_and_none_after_a_session_checkin(world_a):
    world = checkin_world(world_a)
    version = latest_version(world.practice, "phq9")
    checkin = make_checkin(practice=world.practice, client=world.client, version=version)
    answers = {f"a-{k}": str(v) for k, v in phq9_answers(5).items()}
    page = HttpClient().post(f"/c/{checkin.token}/", answers).content.decode()
    assert "If things get hard" in page and "If you need help right now" not in page
    checkin = make_checkin(practice=world.practice, client=world.client)
    page = HttpClient().post(f"/c/{checkin.token}/", form_answers()).content.decode()
    assert "Thank you" in page and "crisis-resources" not in page
