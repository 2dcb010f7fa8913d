"""The clinician's caseload: ordered by what needs attention, each row's facts, filter and
search, and a constant number of queries for 10 and 500 clients."""

import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Membership
from care.models import CareRequest, Client, TherapySession, TreatmentPlan
from feedback.models import Alert
from feedback.selectors import caseload
from feedback.services import alerts as alert_services
from feedback.testing import make_checkin
from feedback.tests.alerts_support import Answering, with_instruments
from portal.testing import (
    AssignmentFactory,
    CareRequestFactory,
    ClientFactory,
    TherapySessionFactory,
    make_plan,
)


def add_client(world, name):
    client = ClientFactory(practice=world.practice, first_name=name, last_name="Test")
    AssignmentFactory(practice=world.practice, client=client, clinician=world.clinician)
    return client


def order_on_page(page):
    return re.findall(r'class="card-title">(\w+) Test', page)


def test_the_caseload_puts_what_needs_attention_first(world_a, as_member):
    w = with_instruments(world_a)
    now = timezone.now()
    c = {name: add_client(w, name) for name in
         ("Quiet", "Safety", "Rupture", "Falling", "Repair", "Overdue", "Review", "Asks")}
    Answering(w, client=c["Safety"]).phq9(12, item9=1)
    Answering(w, client=c["Rupture"]).alliance(7)
    falling = Answering(w, client=c["Falling"])
    for nines in (0, 1, 2):  # 10, 9.875, 9.75: down three times, no rupture rule hit
        falling.alliance([9] * nines + [10] * (8 - nines))
    Answering(w, client=c["Repair"]).alliance(7)
    with w.scope():
        alert_services.acknowledge_alert(
            practice=w.practice, actor=w.clinician,
            alert=Alert.objects.get(client=c["Repair"]), note="Talk about it.",
        )
        make_checkin(practice=w.practice, client=c["Overdue"], due_at=now - timedelta(days=2),
                     expires_in=timedelta(days=4))
        plan = make_plan(practice=w.practice, client=c["Review"], clinician=w.clinician)
        TreatmentPlan.objects.filter(pk=plan.plan.pk).update(review_date=timezone.localdate() - timedelta(days=1))
        CareRequestFactory(practice=w.practice, client=c["Asks"], kind=CareRequest.Kind.SLOWER)
    page = as_member(w.clinician).get(w.url()).content.decode()
    order = order_on_page(page)
    assert order[:7] == ["Safety", "Rupture", "Falling", "Repair", "Overdue", "Review", "Asks"]
    assert "Quiet" in order[7:]
    assert "Alliance falling" in page and "Plan review due" in page and "Waiting for your reply" in page


def test_a_row_shows_sessions_sparkline_outcome_and_pending_items(world_a, as_member):
    w = with_instruments(world_a)
    client = add_client(w, "Row")
    now = timezone.now()
    answering = Answering(w, client=client, start=now - timedelta(days=40))
    for value in (9, 10, 9, 10, 10, 9, 10, 10, 9, 10, 10, 9):  # twelve: the sparkline shows 10
        answering.alliance(value)
    for score in (20, 14, 9):  # the latest and the one before are shown
        answering.phq9(score)
    with w.scope():
        TherapySessionFactory(practice=w.practice, client=client, clinician=w.clinician,
                              starts_at=now - timedelta(days=3), status=TherapySession.Status.ATTENDED)
        TherapySessionFactory(practice=w.practice, client=client, clinician=w.clinician,
                              starts_at=now + timedelta(days=4))
        CareRequestFactory(practice=w.practice, client=client)
    with w.scope():
        rows = caseload.caseload_rows(w.clinician)
    row = next(r for r in rows if r.client == client)
    assert row.alliance == [9, 10, 10, 9, 10, 10, 9, 10, 10, 9]  # the last ten, oldest first
    assert row.last_index == 9
    phq = row.outcomes[0]
    assert (phq.instrument, phq.score, phq.previous, phq.direction) == ("PHQ-9", 9, 14, "better")
    assert row.client.last_session is not None and row.client.next_session > now
    assert row.pending["requests"] == 1
    page = as_member(w.clinician).get(w.url()).content.decode()
    assert 'aria-label="Alliance index, last 10 check-ins, oldest first:' in page
    assert "better than before (14)" in page and "1 request" in page
    assert 'style="' not in page


def test_filter_and_search(world_a, as_member):
    w = with_instruments(world_a)
    a, b = add_client(w, "Alma"), add_client(w, "Boris")
    Answering(w, client=b).alliance(7)
    web = as_member(w.clinician)
    assert order_on_page(web.get(w.url("?need=rupture")).content.decode()) == ["Boris"]
    attention = order_on_page(web.get(w.url("?need=attention")).content.decode())
    assert attention == ["Boris"]
    assert order_on_page(web.get(w.url("?q=alm")).content.decode()) == ["Alma"]
    page = web.get(w.url("?q=nobody")).content.decode()
    assert "No client matches" in page
    # An unknown filter shows everyone rather than an error.
    assert len(order_on_page(web.get(w.url("?need=bogus")).content.decode())) == 2


def _add_clients(world, n):
    """n clients on the clinician's caseload, written in bulk, with a check-in for some."""
    with world.scope():
        start = Client.objects.count()
        clients = [ClientFactory.build(practice=world.practice, first_name=f"Bulk{start + i}", last_name="Test")
                   for i in range(n)]
        from accounts.models import Membership
        for client in clients:
            client.membership = Membership.objects.create(
                practice=world.practice, email=f"bulk{start}-{client.first_name}@example.test",
                role=Membership.Role.CLIENT,
            )
        Client.objects.bulk_create(clients)
        from care.models import CaseloadAssignment
        CaseloadAssignment.objects.bulk_create(
            CaseloadAssignment(practice=world.practice, client=client, clinician=world.clinician)
            for client in clients
        )
    for client in clients[:: max(1, n // 10)]:
        Answering(world, client=client).alliance(7)
        Answering(world, client=client).phq9(10)


def test_caseload_queries_are_the_same_for_10_and_500_clients(world_a, as_member):
    w = with_instruments(world_a)
    web = as_member(w.clinician)
    web.get(w.url())  # the session's first request does one-off work of its own

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = web.get(w.url())
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode().count("caseload-row")

    _add_clients(w, 8)
    few, rows_few = count()
    _add_clients(w, 490)
    many, rows_many = count()
    assert rows_few == 10 and rows_many == 500
    assert many == few


def test_the_rows_take_three_queries(world_a, django_assert_num_queries):
    """The clients with their flags and counts, the scores of every client (one window
    function), the practice's alert settings: no care team or membership loaded per client."""
    w = with_instruments(world_a)
    _add_clients(w, 30)
    with w.scope(), django_assert_num_queries(3):
        rows = caseload.caseload_rows(w.clinician)
    assert len(rows) == 32
    assert sum(bool(r.alliance) for r in rows) == 10 and sum(bool(r.outcomes) for r in rows) == 10


def test_a_row_says_when_the_client_has_not_joined_the_portal(world_a, as_member):
    w = with_instruments(world_a)
    joined, invited = add_client(w, "Joined"), add_client(w, "Invited")
    with w.scope():
        Membership.objects.filter(pk=joined.membership_id).update(status=Membership.Status.ACTIVE)
        Membership.objects.filter(pk=invited.membership_id).update(status=Membership.Status.INVITED)
    page = as_member(w.clinician).get(w.url()).content.decode()

    def row_of(name):
        start = page.index(f"{name} Test")
        return page[start:page.index("</li>", start)]

    assert "not yet joined" in row_of("Invited")
    assert "not yet joined" not in row_of("Joined")


def test_each_row_links_to_its_client_page(world_a, as_member):
    w = with_instruments(world_a)
    clients = [add_client(w, name) for name in ("Ada", "Bea")]
    page = as_member(w.clinician).get(w.url()).content.decode()
    for client in clients:
        kwargs = {"practice_slug": w.practice.slug, "client_id": client.pk}
        href = reverse("care:client", kwargs=kwargs)
        link = rf'<a class="card-link" href="{re.escape(href)}">\s*<span class="card-title">'
        assert re.search(link + f"{client.first_name} Test", page)


@pytest.mark.parametrize(
    "ours, theirs",
    [("v|day", 'v|date:"j M"'), ('v|day:"j M Y"', 'v|date:"j M Y"'),
     ("v|day_time", 'v|date:"D j M, H:i"'), ('v|day_time:"j M Y"', 'v|date:"j M Y, H:i"')],
)
def test_the_cached_date_filters_show_what_the_date_filter_shows(ours, theirs):
    page = Template(f"{{% load feedback_reports %}}{{{{ {ours} }}}}|{{{{ {theirs} }}}}")
    with timezone.override("Pacific/Auckland"):
        for hour in (0, 11, 12, 23):  # either side of midnight in Auckland
            value = datetime(2026, 3, 31, hour, 5, tzinfo=dt_timezone.utc)
            for language in ("en", "de"):  # day and month names follow the language
                with translation.override(language):
                    mine, django = page.render(Context({"v": value})).split("|")
                assert mine == django
        assert page.render(Context({"v": None})) == "|"


@pytest.mark.parametrize("arg", ["1", '"-1"', '"-2"'])
def test_rounded_shows_what_floatformat_shows(arg):
    page = Template(f"{{% load feedback_reports %}}{{{{ v|rounded:{arg} }}}}|{{{{ v|floatformat:{arg} }}}}")
    for value in (8.25, 8.75, 9.125, 10.0, 0.0, 7.05, 14, 3.333, None):  # ties round half up
        for language in ("en", "de"):  # the decimal separator follows the language
            with translation.override(language):
                ours, django = page.render(Context({"v": value})).split("|")
            assert ours == django


