"""Taking a check-in from the single-use link /c/<token>/ (no sign-in): what the page reveals,
bad input, used/expired/tampered links, double submits, and isolation of a URL outside /p/."""

from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from feedback.models import Alert, Answer, CheckinInvitation, CheckinResponse
from feedback.services import checkins as services
from feedback.testing import SESSION_CHECKIN_ANSWERS, form_answers, latest_version, make_checkin
from feedback.tests.checkin_support import browser_for, checkin_world
from portal.testing import ON_POSTGRES, TRANSACTION_QUERIES

HOSTILE = '<script>alert("x")</script><b>bold</b>'


@pytest.fixture
def world(world_a):
    return checkin_world(world_a)


@pytest.fixture
def checkin(world):
    return make_checkin(practice=world.practice, client=world.client, clinician=world.clinician)


def link(invitation) -> str:
    return f"/c/{invitation.token}/"


def stored() -> tuple[int, int]:
    return CheckinResponse.unscoped.count(), Answer.unscoped.count()


def body(response) -> str:
    return response.content.decode()


# --- what the page shows --------------------------------------------------------------------


def test_the_page_shows_only_the_practice_and_the_clinicians_first_name(world, checkin):
    page = HttpClient().get(link(checkin))
    assert page.status_code == 200
    text = body(page)
    assert world.practice.name in text and "Cleo would like to know" in text
    for hidden in ("Carefield", "Kim", "Solo", world.client.membership.email):
        assert hidden not in text, hidden
    assert 'name="robots" content="noindex"' in text
    assert "no-store" in page["Cache-Control"]
    # Every 0–10 question is a radio group with its legend; the anchors are said.
    assert text.count('<fieldset class="question question-numbers') == 8
    assert text.count('type="radio" name="a-heard"') == 11
    assert "0 = Not at all" in text and "10 = Completely" in text
    assert text.count('type="radio" name="a-rupture"') == 2  # yes / no
    assert 'maxlength="4000"' in text and "<textarea" in text


def test_a_completed_checkin_is_stored_once_and_linked(world, checkin):
    visitor = HttpClient()
    done = visitor.post(link(checkin), form_answers(**{"do-differently": HOSTILE}))
    assert done.status_code == 200 and "Thank you" in body(done)
    checkin.refresh_from_db()
    response = CheckinResponse.unscoped.get()
    assert checkin.status == "completed" and checkin.response_id == response.pk
    assert checkin.completed_at == response.submitted_at
    assert response.channel == "email" and response.respondent_id is None
    assert response.client_id == world.client.pk and response.index == pytest.approx(8.125)
    assert Answer.unscoped.get(item__key="do-differently").text == HOSTILE  # stored as given

    # The link works once: afterwards it says so.
    used = visitor.get(link(checkin))
    assert used.status_code == 410 and "Already answered" in body(used)
    assert stored() == (1, 9)


def test_a_double_submit_stores_one_response_and_confirms_both(world, checkin):
    visitor = HttpClient()
    first = visitor.post(link(checkin), form_answers())
    second = visitor.post(link(checkin), form_answers({**SESSION_CHECKIN_ANSWERS, "heard": 0}))
    assert first.status_code == second.status_code == 200
    assert "Thank you" in body(second)
    assert stored() == (1, 8)
    assert CheckinResponse.unscoped.get().index == pytest.approx(8.125)  # the first one


# The link's submit, from the token lookup to the thank-you page: BEGIN, the invitation by its
# token, the invitation and client locked, the version held (PostgreSQL only: SQLite has one
# writer at a time), its items, the response, its answers, alert settings, earlier indices, the
# open rupture alert, the invitation and its e-mails marked, COMMIT.
SUBMIT_QUERIES = 10 + (1 if ON_POSTGRES else 0) + TRANSACTION_QUERIES


@pytest.mark.parametrize("history", [1, 12])
def test_a_submit_runs_the_same_queries_however_long_the_history(
    world, django_assert_num_queries, history
):
    # Steady answers (alliance index 10 or 9.875), so that no rule fires and no alert is raised.
    for n in range(history):
        earlier = make_checkin(practice=world.practice, client=world.client,
                               clinician=world.clinician)
        steady = {key: 10 for key in SESSION_CHECKIN_ANSWERS} | {"overall": 9 + n % 2}
        assert HttpClient().post(link(earlier), form_answers(steady)).status_code == 200
    checkin = make_checkin(practice=world.practice, client=world.client,
                           clinician=world.clinician)
    with django_assert_num_queries(SUBMIT_QUERIES):
        page = HttpClient().post(
            link(checkin), form_answers({key: 10 for key in SESSION_CHECKIN_ANSWERS})
        )
    assert page.status_code == 200 and "Thank you" in body(page)
    assert stored() == (history + 1, 8 * (history + 1))
    assert not Alert.unscoped.exists()


def test_a_signed_in_client_answering_their_own_link_is_the_respondent(world, checkin):
    browser_for(world.client.membership).post(link(checkin), form_answers())
    assert CheckinResponse.unscoped.get().respondent_id == world.client.membership.pk


# --- bad input: a clear message, nothing stored -----------------------------------------------


@pytest.mark.parametrize(
    "data, message",
    [
        (form_answers(heard=11), "Choose a number from 0 to 10."),
        (form_answers(heard=-1), "Choose a number from 0 to 10."),
        (form_answers(heard="7.5"), "a whole number from 0 to 10"),
        (form_answers(rupture="maybe"), "Answer yes or no."),
        ({k: v for k, v in form_answers().items() if k != "a-pace"},
         "Please answer this question."),
        (form_answers(**{"bogus-item": 3}), "not part of this check-in"),
        (form_answers(**{"do-differently": "x" * 4001}), "under 4,000 characters"),
        ({}, "Please answer this question."),
    ],
    ids=["above range", "below range", "not whole", "yes-no", "missing", "unknown item",
         "oversized", "empty"],
)
def test_bad_answers_get_a_clear_message_and_nothing_is_stored(world, checkin, data, message):
    page = HttpClient().post(link(checkin), data)
    assert page.status_code == 400
    text = body(page)
    assert message in text and "Nothing was saved yet" in text
    assert stored() == (0, 0)
    checkin.refresh_from_db()
    assert checkin.status == "open"


def test_hostile_text_is_escaped_when_the_form_comes_back(world, checkin):
    data = {k: v for k, v in form_answers(**{"do-differently": HOSTILE}).items() if k != "a-pace"}
    text = body(HttpClient().post(link(checkin), data))
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    # The other answers are kept, so nothing has to be entered twice.
    assert 'name="a-heard" value="9" checked' in text


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("a" if t[-1] != "a" else "b"),  # one character changed
    lambda t: t[:-2],  # cut short
    lambda t: t + "a",  # one too many
    lambda t: "x" * 200,  # nonsense
])
def test_a_tampered_link_is_not_recognised(world, checkin, mangle):
    for method in ("get", "post"):
        page = getattr(HttpClient(), method)(f"/c/{mangle(checkin.token)}/", form_answers())
        assert page.status_code == 404 and "This link isn't working" in body(page)
        assert world.practice.name not in body(page)
    assert stored() == (0, 0)


def test_the_link_tolerates_case_and_dashes(world, checkin):
    token = checkin.token.upper()
    page = HttpClient().get(f"/c/{token[:5]}-{token[5:]}/")
    assert page.status_code == 200


def test_an_expired_link_says_so_and_stores_nothing(world, checkin):
    CheckinInvitation.unscoped.filter(pk=checkin.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    for method in ("get", "post"):
        page = getattr(HttpClient(), method)(link(checkin), form_answers())
        assert page.status_code == 410 and "This check-in has closed" in body(page)
    assert stored() == (0, 0)


def test_a_cancelled_link_or_a_discharged_client_stores_nothing(world, checkin):
    world.client.discharged_at = timezone.now()
    world.client.save()
    page = HttpClient().post(link(checkin), form_answers())
    assert page.status_code == 410 and "no longer needed" in body(page)
    assert stored() == (0, 0)


def test_another_practices_invitation_cannot_be_completed_in_this_practice(world, world_b):
    checkin_world(world_b, names=("Bo", "Brightwater"))
    theirs = make_checkin(practice=world_b.practice, client=world_b.client)
    with world.scope(), pytest.raises(services.CheckinUnavailable) as refused:
        services.complete_checkin(
            practice=world.practice, invitation=theirs, answers=SESSION_CHECKIN_ANSWERS,
            via="link",
        )
    assert refused.value.state == "invalid"
    assert stored() == (0, 0)


# --- isolation of /c/<token>/ (outside /p/<slug>/, so test_isolation does not walk it) ----------


def test_a_link_reveals_only_its_own_practice_whoever_opens_it(world, world_b):
    checkin_world(world_b, names=("Bo", "Brightwater"))
    theirs = make_checkin(practice=world_b.practice, client=world_b.client,
                          version=latest_version(world_b.practice), clinician=world_b.clinician)
    mine = make_checkin(practice=world.practice, client=world.client)
    for visitor in (HttpClient(), browser_for(world.admin), browser_for(world.client.membership)):
        text = body(visitor.get(link(theirs)))
        assert world_b.practice.name in text and "Cleo would like to know" in text
        assert world.practice.name not in text  # not the visitor's own practice either
        for hidden in ("Bo ", "Brightwater", world_b.client.membership.email, "Kim", "Solo"):
            assert hidden not in text, hidden
    # Answered through its link, B's check-in belongs to B's client; A's stays open.
    HttpClient().post(link(theirs), form_answers())
    response = CheckinResponse.unscoped.get()
    assert response.practice_id == world_b.practice.pk and response.client_id == world_b.client.pk
    assert all(a.practice_id == world_b.practice.pk for a in Answer.unscoped.all())
    mine.refresh_from_db()
    assert mine.status == "open"
    used = HttpClient().get(link(theirs))
    assert used.status_code == 410 and "Already answered" in body(used)
    assert world.practice.name not in body(used)


def test_a_link_of_an_inactive_practice_is_not_recognised(world, checkin):
    world.practice.is_active = False
    world.practice.save()
    page = HttpClient().get(link(checkin))
    assert page.status_code == 404 and world.practice.name not in body(page)
