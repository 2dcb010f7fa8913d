"""The client's agenda: topics to talk about and topics for "not today", attached to the next
session; withdrawn by the client, marked talked about or carried over by the clinician."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from care.models import AgendaItem, Notification
from care.tests.sessions_support import (
    body,
    browser_for,
    named_world,
    notifications_for,
    session_of,
    staff_url,
)
from portal.testing import AgendaItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(world_a):
    return named_world(world_a)


ADD = "my/agenda/"


def items_of(client) -> list[AgendaItem]:
    return list(AgendaItem.unscoped.filter(client=client).order_by("pk"))


def add(world, text="How work has been", kind="discuss", http=None):
    return (http or world.me).post(world.url(ADD), {"kind": kind, "text": text})


# --- adding -------------------------------------------------------------------------------------


def test_client_adds_a_topic_to_their_next_session(world):
    session_of(world, days=-2, status="attended")
    later = session_of(world, days=9)
    sooner = session_of(world, days=2)
    session_of(world, days=1, status="cancelled")
    response = add(world, "My sister's visit")
    assert response.status_code == 302
    (item,) = items_of(world.client)
    assert (item.text, item.kind, item.status) == ("My sister's visit", "discuss", "open")
    assert item.session == sooner != later
    assert item.created_by == world.client.membership


def test_a_not_today_topic_is_kept_apart_and_clearly_marked_for_the_clinician(world):
    session_of(world, days=2)
    add(world, "Work stress", "discuss")
    add(world, "My father", "not_today")
    page = body(world.cleo.get(staff_url(world, world.client)))
    talk, rest = page.split("Would like to talk about", 1)
    assert "Work stress" in rest.split("Not today</span>", 1)[0]
    not_today = rest.split("Not today</span>", 1)[1]
    assert "My father" in not_today and "Work stress" not in not_today
    assert 'class="agenda-item agenda-item-not_today"' in page


def test_without_a_booked_session_the_topic_waits_for_the_next_one(world):
    add(world, "Sleep")
    (item,) = items_of(world.client)
    assert item.session is None
    world.cleo.post(
        staff_url(world, world.client, "sessions/new/"),
        {
            "date": (timezone.localdate() + timedelta(days=4)).isoformat(),
            "time": "10:00",
            "duration_minutes": "50",
            "modality": "in_person",
            "status": "scheduled",
        },
    )
    item.refresh_from_db()
    assert item.session is not None and item.session.client == world.client


def test_a_double_submit_adds_one_topic_and_one_notification(world):
    add(world, "Sleep")
    add(world, "Sleep")
    assert len(items_of(world.client)) == 1
    assert len(notifications_for(world.clinician, area="agenda")) == 1


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "discuss", "text": ""}, "Write a few words about the topic"),
        ({"kind": "discuss", "text": "   "}, "Write a few words about the topic"),
        ({"kind": "discuss", "text": "x" * 2001}, "2000 characters or fewer (it has 2001)"),
        ({"kind": "someday", "text": "Sleep and dreams"}, "Choose one of the two options."),
        ({"text": "Sleep and dreams"}, "Choose one of the two options."),
    ],
)
def test_bad_topics_are_refused_with_a_message_and_kept(world, data, message):
    response = world.me.post(world.url(ADD), data)
    assert response.status_code == 400
    page = body(response)
    assert message in page
    assert items_of(world.client) == []
    assert notifications_for(world.clinician) == []
    if data.get("text", "").strip():
        assert data["text"][:50] in page  # what was typed is still in the box


def test_hostile_text_is_escaped_everywhere(world):
    session_of(world, days=2)
    add(world, '<script>alert("x")</script><b>bold</b>')
    for http, url in [
        (world.me, world.url("my/sessions/")),
        (world.cleo, staff_url(world, world.client)),
    ]:
        page = body(http.get(url))
        assert "<script>alert" not in page and "<b>bold</b>" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page


def test_staff_cannot_add_to_a_clients_agenda(world):
    for http in (world.cleo, world.ada):
        assert add(world, http=http).status_code == 404
    assert items_of(world.client) == []


# --- withdrawing --------------------------------------------------------------------------------


def test_client_withdraws_their_own_open_topic(world):
    add(world, "Sleep")
    (item,) = items_of(world.client)
    response = world.me.post(world.url(f"my/agenda/{item.pk}/withdraw/"), follow=True)
    assert "off your agenda" in body(response)
    assert items_of(world.client) == []


def test_a_client_cannot_withdraw_another_clients_topic(world):
    theirs = AgendaItemFactory(practice=world.practice, client=world.other_client)
    assert world.me.post(world.url(f"my/agenda/{theirs.pk}/withdraw/")).status_code == 404
    assert items_of(world.other_client) == [theirs]


def test_a_topic_already_talked_about_stays(world):
    item = AgendaItemFactory(practice=world.practice, client=world.client, status="addressed")
    response = world.me.post(world.url(f"my/agenda/{item.pk}/withdraw/"), follow=True)
    assert "stays in your history" in body(response)
    assert items_of(world.client) == [item]


def test_staff_cannot_use_the_clients_withdraw_url(world):
    item = AgendaItemFactory(practice=world.practice, client=world.client)
    for http in (world.cleo, world.ada):
        assert http.post(world.url(f"my/agenda/{item.pk}/withdraw/")).status_code == 404
    assert items_of(world.client) == [item]


# --- the clinician handles topics ---------------------------------------------------------------


def handle(world, item, outcome, http=None, **extra):
    url = staff_url(world, item.client, f"agenda/{item.pk}/")
    return (http or world.cleo).post(url, {"outcome": outcome, **extra})


def test_clinician_marks_a_topic_talked_about(world):
    session = session_of(world, days=-1, status="attended")
    item = AgendaItemFactory(practice=world.practice, client=world.client, session=session)
    handle(world, item, "addressed")
    item.refresh_from_db()
    assert item.status == "addressed"
    assert item.handled_by == world.clinician and item.handled_at is not None
    assert item.session == session
    # Gone from the open topics on the client page, and shown in the client's history.
    assert "No open topics." in body(world.cleo.get(staff_url(world, world.client)))
    assert "Earlier topics" in body(world.me.get(world.url("my/sessions/")))


def test_carry_over_moves_the_topic_to_the_next_session(world):
    past = session_of(world, days=-1, status="attended")
    following = session_of(world, days=6)
    session_of(world, days=13)
    item = AgendaItemFactory(practice=world.practice, client=world.client, session=past)
    handle(world, item, "carried_over", seen_session=past.pk)
    item.refresh_from_db()
    assert (item.status, item.session) == ("carried_over", following)
    # The same click again (the page still showed the old session) moves it no further.
    handle(world, item, "carried_over", seen_session=past.pk)
    item.refresh_from_db()
    assert item.session == following


def test_carry_over_before_the_session_moves_to_the_one_after(world):
    soon, after = session_of(world, days=1), session_of(world, days=8)
    item = AgendaItemFactory(practice=world.practice, client=world.client, session=soon)
    handle(world, item, "carried_over", seen_session=soon.pk)
    item.refresh_from_db()
    assert item.session == after


def test_carry_over_without_a_next_session_waits_for_one(world):
    past = session_of(world, days=-1, status="attended")
    item = AgendaItemFactory(practice=world.practice, client=world.client, session=past)
    response = handle(world, item, "carried_over")
    item.refresh_from_db()
    assert (item.status, item.session) == ("carried_over", None)
    assert response.status_code == 302


def test_an_unknown_outcome_changes_nothing(world):
    item = AgendaItemFactory(practice=world.practice, client=world.client)
    handle(world, item, "forgotten")
    item.refresh_from_db()
    assert item.status == "open" and item.handled_by is None


@pytest.mark.parametrize("who", ["dev", "me", "otto"])
def test_others_cannot_handle_a_topic(world, who):
    item = AgendaItemFactory(practice=world.practice, client=world.client)
    assert handle(world, item, "addressed", http=getattr(world, who)).status_code == 404
    item.refresh_from_db()
    assert item.status == "open"


def test_a_topic_of_another_client_is_not_found_under_this_client(world):
    theirs = AgendaItemFactory(practice=world.practice, client=world.shared_client)
    url = staff_url(world, world.client, f"agenda/{theirs.pk}/")
    assert world.cleo.post(url, {"outcome": "addressed"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "open"


def test_another_practice_cannot_handle_or_withdraw(world, world_b, as_member):
    item = AgendaItemFactory(practice=world.practice, client=world.client)
    http = as_member(world_b.admin)
    assert (
        http.post(
            staff_url(world, world.client, f"agenda/{item.pk}/"), {"outcome": "addressed"}
        ).status_code
        == 404
    )
    assert (
        http.post(
            world_b.url(f"clients/{world.client.pk}/agenda/{item.pk}/"), {"outcome": "addressed"}
        ).status_code
        == 404
    )
    b_client = as_member(world_b.client.membership)
    assert b_client.post(world_b.url(f"my/agenda/{item.pk}/withdraw/")).status_code == 404
    item.refresh_from_db()
    assert item.status == "open"


# --- notifications ------------------------------------------------------------------------------


def test_a_new_topic_notifies_the_care_team_by_a_link_only_email(
    world, django_capture_on_commit_callbacks
):
    session_of(world, world.shared_client, days=2)
    sia = world.shared_client
    with django_capture_on_commit_callbacks(execute=True):
        browser_for(sia.membership).post(
            world.url(ADD), {"kind": "not_today", "text": "The accident last spring"}
        )
    for clinician in (world.clinician, world.clinician2):
        (note,) = notifications_for(clinician)
        assert (note.area, note.kind, note.client_id) == (
            "agenda",
            Notification.Kind.AGENDA,
            sia.pk,
        )
    assert notifications_for(sia.membership) == []
    assert notifications_for(world.admin) == []  # not on the care team
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        text = message.subject + message.body
        assert "accident" not in text.lower() and "Sia" not in text and "Together" not in text
        assert "http://testserver/p/alpha/" in text


def test_opening_the_client_page_marks_agenda_news_read_and_shows_new_once(world):
    session_of(world, days=2)
    add(world, "Sleep")
    (note,) = notifications_for(world.clinician, area="agenda")
    assert note.read_at is None
    first = body(world.cleo.get(staff_url(world, world.client)))
    assert 'badge new">new</span>' in first
    note.refresh_from_db()
    assert note.read_at is not None
    second = body(world.cleo.get(staff_url(world, world.client)))
    assert (
        'badge new">new</span>'
        not in second.split('id="agenda-heading"', 1)[1].split("</section>", 1)[0]
    )
