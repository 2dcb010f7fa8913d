"""Pace and ending: the client's requests and the clinician's written replies; the ending plan,
its comments, and who hears about what."""

import re

import pytest
from django.core import mail
from django.utils import timezone

from care.models import CareRequest, Comment, Notification, TerminationPlan
from care.tests.sessions_support import (
    body,
    count_queries,
    named_world,
    notifications_for,
    staff_url,
)
from portal.testing import CareRequestFactory, TerminationPlanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(world_a):
    return named_world(world_a)


def requests_of(client) -> list[CareRequest]:
    return list(CareRequest.unscoped.filter(client=client).order_by("pk"))


def ask(world, kind="slower", reason="It feels like a lot right now", http=None):
    return (http or world.me).post(world.url("my/requests/new/"), {"kind": kind, "reason": reason})


def reply(world, care_request, text="Thank you for saying so. Let's slow down.", http=None):
    url = staff_url(world, care_request.client, f"requests/{care_request.pk}/respond/")
    return (http or world.cleo).post(url, {f"request-{care_request.pk}-response": text})


# --- asking -------------------------------------------------------------------------------------


def test_client_asks_to_slow_down_and_the_care_team_hears(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = ask(world)
    assert response.status_code == 302
    (care_request,) = requests_of(world.client)
    assert (care_request.kind, care_request.status, care_request.reason) == (
        "slower",
        "open",
        "It feels like a lot right now",
    )
    (note,) = notifications_for(world.clinician)
    assert (note.area, note.kind) == ("requests", Notification.Kind.REQUEST)
    assert notifications_for(world.client.membership) == []
    (message,) = mail.outbox
    assert message.to == [world.clinician.user.email]
    text = message.subject + message.body
    assert "a lot right now" not in text and "Kim" not in text and "Solo" not in text
    assert "slow" not in text.lower()


def test_one_open_request_per_kind(world):
    ask(world, "pause", "first")
    ask(world, "pause", "second")
    ask(world, "less_often")
    assert [(r.kind, r.reason) for r in requests_of(world.client)] == [
        ("pause", "first"),
        ("less_often", "It feels like a lot right now"),
    ]
    assert len(notifications_for(world.clinician)) == 2


def test_after_an_answer_the_same_kind_can_be_asked_again(world):
    CareRequestFactory(
        practice=world.practice, client=world.client, kind="pause", status="answered"
    )
    ask(world, "pause")
    assert [r.status for r in requests_of(world.client)] == ["answered", "open"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "vanish", "reason": "kept words"}, "Choose what you would like from the list."),
        ({"reason": "kept words"}, "Choose what you would like."),
        ({"kind": "slower", "reason": "kept words " + "y" * 2000}, "2000 characters or fewer"),
    ],
)
def test_bad_requests_are_refused_with_a_message_and_kept(world, data, message):
    response = world.me.post(world.url("my/requests/new/"), data)
    assert response.status_code == 400
    page = body(response)
    assert message in page
    assert "kept words" in page
    assert requests_of(world.client) == []
    assert notifications_for(world.clinician) == []


def test_asking_to_end_is_presented_as_a_normal_choice(world):
    page = body(world.me.get(world.url("my/requests/?kind=end")))
    assert "a normal part of therapy" in page
    assert re.search(r'<input[^>]*value="end"[^>]*checked', page)
    assert not re.search(r'<input[^>]*value="slower"[^>]*checked', page)
    response = ask(world, "end", "")
    assert response.status_code == 302
    followed = body(world.me.get(response["Location"]))
    assert "Thank you for telling us" in followed


def test_staff_cannot_ask_on_the_clients_behalf(world):
    for http in (world.cleo, world.ada):
        assert ask(world, http=http).status_code == 404
    assert requests_of(world.client) == []


def test_client_withdraws_an_open_request_but_not_anothers(world):
    ask(world, "pause")
    (mine,) = requests_of(world.client)
    theirs = CareRequestFactory(practice=world.practice, client=world.other_client, kind="pause")
    assert world.me.post(world.url(f"my/requests/{theirs.pk}/withdraw/")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "open"
    world.me.post(world.url(f"my/requests/{mine.pk}/withdraw/"))
    world.me.post(world.url(f"my/requests/{mine.pk}/withdraw/"))  # twice is harmless
    mine.refresh_from_db()
    assert mine.status == "withdrawn"


# --- replying -----------------------------------------------------------------------------------


def test_clinician_replies_and_the_client_reads_it(world, django_capture_on_commit_callbacks):
    ask(world, "faster", "I feel ready for more")
    (care_request,) = requests_of(world.client)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = reply(world, care_request, "Good to hear. Let's set a new goal next time.")
    assert response.status_code == 302
    care_request.refresh_from_db()
    assert care_request.status == "answered" and care_request.responded_by == world.clinician
    (note,) = notifications_for(world.client.membership)
    assert (note.area, note.kind) == ("requests", Notification.Kind.REQUEST_ANSWERED)
    (message,) = mail.outbox
    assert message.to == [world.client.membership.user.email]
    assert "new goal" not in message.body and "Cleo" not in message.body

    page = body(world.me.get(world.url("my/requests/")))
    assert "Good to hear. Let&#x27;s set a new goal next time." in page
    assert "Reply from Cleo Carefield" in page
    assert "new reply</span>" in page
    note.refresh_from_db()
    assert note.read_at is not None  # opening the page read it
    assert "new reply</span>" not in body(world.me.get(world.url("my/requests/")))


def test_staff_page_marks_request_news_read(world):
    ask(world)
    (note,) = notifications_for(world.clinician)
    page = body(world.cleo.get(staff_url(world, world.client, "requests/")))
    assert "It feels like a lot right now" in page and 'badge new">new</span>' in page
    note.refresh_from_db()
    assert note.read_at is not None


@pytest.mark.parametrize(
    "text, message",
    [("", "Write your reply to the client."), ("z" * 2001, "2000 characters or fewer")],
)
def test_a_bad_reply_is_refused(world, text, message):
    ask(world)
    (care_request,) = requests_of(world.client)
    response = reply(world, care_request, text)
    assert response.status_code == 400
    assert message in body(response)
    care_request.refresh_from_db()
    assert care_request.status == "open" and care_request.response == ""
    assert notifications_for(world.client.membership) == []


def test_a_double_reply_is_harmless(world):
    ask(world)
    (care_request,) = requests_of(world.client)
    reply(world, care_request, "Yes, let's.")
    reply(world, care_request, "Yes, let's.")
    assert len(notifications_for(world.client.membership)) == 1


def test_a_withdrawn_request_takes_no_reply(world):
    care_request = CareRequestFactory(
        practice=world.practice, client=world.client, status="withdrawn"
    )
    response = reply(world, care_request, "Too late?")
    assert response.status_code == 302
    care_request.refresh_from_db()
    assert care_request.response == ""
    assert "withdrawn this request" in body(world.cleo.get(response["Location"]))


@pytest.mark.parametrize("who", ["dev", "me", "otto"])
def test_others_cannot_reply(world, who):
    care_request = CareRequestFactory(practice=world.practice, client=world.client)
    assert reply(world, care_request, http=getattr(world, who)).status_code == 404
    assert world.dev.get(staff_url(world, world.client, "requests/")).status_code == 404
    care_request.refresh_from_db()
    assert care_request.status == "open"


def test_another_practice_cannot_see_or_reply(world, world_b, as_member):
    care_request = CareRequestFactory(practice=world.practice, client=world.client, reason="secret")
    http = as_member(world_b.admin)
    assert http.get(staff_url(world, world.client, "requests/")).status_code == 404
    assert reply(world, care_request, http=http).status_code == 404
    b_client = as_member(world_b.client.membership)
    assert "secret" not in body(b_client.get(world_b.url("my/requests/")))
    assert b_client.post(world_b.url(f"my/requests/{care_request.pk}/withdraw/")).status_code == 404
    care_request.refresh_from_db()
    assert care_request.status == "open"


# --- the ending plan ----------------------------------------------------------------------------


def plan_data(**overrides):
    return {
        "final_sessions": "3",
        "after_care": "A check-in call in two months.",
        "referrals": "Peer group on Thursdays",
        **overrides,
    }


def plans_of(client) -> list[TerminationPlan]:
    return list(TerminationPlan.unscoped.filter(client=client).order_by("pk"))


def open_plan(world, http=None, **data):
    return (http or world.cleo).post(
        staff_url(world, world.client, "ending/open/"), plan_data(**data)
    )


def test_the_client_asks_to_end_and_the_clinician_opens_a_plan(
    world, django_capture_on_commit_callbacks
):
    ask(world, "end", "I feel I've got what I came for")
    (end_request,) = requests_of(world.client)
    staff_page = body(world.cleo.get(staff_url(world, world.client, "ending/")))
    assert "asked to end therapy" in staff_page and "got what I came for" in staff_page
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        open_plan(world)
    (plan,) = plans_of(world.client)
    assert (plan.status, plan.final_sessions, plan.request) == ("open", 3, end_request)
    (note,) = notifications_for(world.client.membership, area="ending")
    assert note.kind == Notification.Kind.TERMINATION
    (message,) = mail.outbox
    assert "check-in call" not in message.body and "Peer group" not in message.body

    page = body(world.me.get(world.url("my/ending/")))
    assert "A check-in call in two months." in page and "Peer group on Thursdays" in page
    assert "updated</span>" in page
    note.refresh_from_db()
    assert note.read_at is not None


def test_the_clinician_may_open_a_plan_without_a_request_and_only_once(world):
    open_plan(world)
    open_plan(world, final_sessions="5")
    (plan,) = plans_of(world.client)
    assert plan.final_sessions == 3 and plan.request is None


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"final_sessions": "-1"}, "from 0 to 30"),
        ({"final_sessions": "99"}, "from 0 to 30"),
        ({"final_sessions": ""}, "Enter how many sessions are left"),
        ({"after_care": "w" * 2001}, "2000 characters or fewer"),
    ],
)
def test_a_bad_plan_is_refused_and_kept(world, overrides, message):
    response = open_plan(world, **{"referrals": "kept referral", **overrides})
    assert response.status_code == 400
    page = body(response)
    assert message in page and "kept referral" in page
    assert plans_of(world.client) == []


def test_no_plan_yet_reads_as_a_respected_choice(world):
    page = body(world.me.get(world.url("my/ending/")))
    assert "There's no ending plan at the moment." in page
    assert "normal part of it, and it's your choice" in page


def test_clinician_updates_and_completes_the_plan(world):
    open_plan(world)
    (plan,) = plans_of(world.client)
    url = staff_url(world, world.client, f"ending/{plan.pk}/")
    world.cleo.post(url, plan_data(final_sessions="1", after_care="Call us any time."))
    plan.refresh_from_db()
    assert (plan.final_sessions, plan.after_care) == (1, "Call us any time.")
    assert len(notifications_for(world.client.membership, area="ending")) == 2
    world.cleo.post(url + "close/", {"status": "completed"})
    world.cleo.post(url + "close/", {"status": "completed"})  # twice is harmless
    plan.refresh_from_db()
    assert plan.status == "completed"
    assert len(notifications_for(world.client.membership, area="ending")) == 3
    # A completed plan no longer changes.
    world.cleo.post(url, plan_data(final_sessions="7"))
    plan.refresh_from_db()
    assert plan.final_sessions == 1
    assert "completed" in body(world.me.get(world.url("my/ending/")))


def test_comments_on_the_plan_go_to_the_other_side(world, django_capture_on_commit_callbacks):
    open_plan(world)
    (plan,) = plans_of(world.client)
    Notification.unscoped.all().delete()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        world.me.post(
            world.url(f"my/ending/{plan.pk}/comment/"), {"body": "Could we keep one more session?"}
        )
    (note,) = notifications_for(world.clinician)
    assert (note.area, note.kind) == ("ending", Notification.Kind.COMMENT)
    assert all("one more session" not in m.body and "Kim" not in m.body for m in mail.outbox)
    world.cleo.post(
        staff_url(world, world.client, f"ending/{plan.pk}/comment/"), {"body": "Yes, of course."}
    )
    (note,) = notifications_for(world.client.membership)
    assert note.area == "ending"
    comments = list(Comment.unscoped.filter(termination=plan).values_list("author_id", "body"))
    assert comments == [
        (world.client.membership.pk, "Could we keep one more session?"),
        (world.clinician.pk, "Yes, of course."),
    ]
    page = body(world.me.get(world.url("my/ending/")))
    assert "Yes, of course." in page and "Cleo Carefield" in page


def test_bad_and_double_comments(world):
    open_plan(world)
    (plan,) = plans_of(world.client)
    url = world.url(f"my/ending/{plan.pk}/comment/")
    assert world.me.post(url, {"body": ""}).status_code == 400
    response = world.me.post(url, {"body": "<img src=x onerror=alert(1)>" + "q" * 1990})
    assert response.status_code == 400 and "2000 characters or fewer" in body(response)
    world.me.post(url, {"body": "<i>thanks</i>"})
    world.me.post(url, {"body": "<i>thanks</i>"})
    assert Comment.unscoped.filter(termination=plan).count() == 1
    page = body(world.cleo.get(staff_url(world, world.client, "ending/")))
    assert "&lt;i&gt;thanks&lt;/i&gt;" in page and "<i>thanks</i>" not in page


def test_a_client_cannot_see_or_comment_on_another_clients_plan(world):
    theirs = TerminationPlanFactory(
        practice=world.practice,
        client=world.other_client,
        created_by=world.clinician2,
        after_care="Otto's private plan",
    )
    assert "Otto&#x27;s private plan" not in body(world.me.get(world.url("my/ending/")))
    assert (
        world.me.post(world.url(f"my/ending/{theirs.pk}/comment/"), {"body": "hi"}).status_code
        == 404
    )
    assert not Comment.unscoped.filter(termination=theirs).exists()


@pytest.mark.parametrize("who", ["dev", "me", "otto"])
def test_others_cannot_run_the_plan(world, who):
    plan = TerminationPlanFactory(
        practice=world.practice, client=world.client, created_by=world.clinician
    )
    http = getattr(world, who)
    base = staff_url(world, world.client, "ending/")
    assert http.get(base).status_code == 404
    assert http.post(base + "open/", plan_data()).status_code == 404
    assert http.post(base + f"{plan.pk}/", plan_data(final_sessions="9")).status_code == 404
    assert http.post(base + f"{plan.pk}/close/", {"status": "cancelled"}).status_code == 404
    assert http.post(base + f"{plan.pk}/comment/", {"body": "hi"}).status_code == 404
    plan.refresh_from_db()
    assert (plan.status, plan.final_sessions) == ("open", 2)
    assert not Comment.unscoped.filter(termination=plan).exists()


def test_the_client_page_panel_shows_open_requests_and_the_plan(world):
    ask(world, "pause", "")
    open_plan(world)
    page = body(world.cleo.get(staff_url(world, world.client)))
    assert "Take a pause" in page and "An ending plan is in progress" in page
    home = body(world.me.get(world.url()))
    assert "1 request waiting for a reply" in home and "planning a good ending" in home


def test_requests_and_ending_pages_run_the_same_queries_for_few_and_many_rows(world):
    plan = TerminationPlanFactory(
        practice=world.practice, client=world.client, created_by=world.clinician
    )

    def fill(n):
        for i in range(n):
            CareRequestFactory(
                practice=world.practice,
                client=world.client,
                status="answered",
                response="ok",
                responded_by=world.clinician,
                responded_at=timezone.now(),
            )
            Comment.unscoped.create(
                practice=world.practice,
                client=world.client,
                termination=plan,
                author=world.clinician if i % 2 else world.client.membership,
                body="c",
            )

    urls = [
        (world.cleo, staff_url(world, world.client, "requests/")),
        (world.me, world.url("my/requests/")),
        (world.cleo, staff_url(world, world.client, "ending/")),
        (world.me, world.url("my/ending/")),
    ]
    fill(2)
    few = [count_queries(http, url)[0] for http, url in urls]
    fill(38)
    many = [count_queries(http, url)[0] for http, url in urls]
    assert many == few
    assert CareRequest.unscoped.filter(client=world.client).count() == 40
