"""Rupture and safety alerts: the rules on hand-computed sequences, repair, the clinician's
actions (and who may take them), the caseload order, the e-mails, constant query counts."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from care.models import Notification
from feedback.models import Alert, CheckinInvitation
from feedback.services import alerts as services
from feedback.services.alerts import RuptureRules, rupture_hits
from feedback.tests.alerts_support import Answering, with_instruments
from portal.testing import AssignmentFactory, ClientFactory

pytestmark = pytest.mark.django_db

RULES = RuptureRules()


def rules_of(hits):
    return [h.rule for h in hits]


# --- The rules, pure ----------------------------------------------------------------------------


def test_each_rule_alone():
    assert rules_of(rupture_hits(RULES, index=8.99, prior=[])) == ["below_cutoff"]
    assert rupture_hits(RULES, index=9.0, prior=[]) == []
    assert rules_of(rupture_hits(RULES, index=9.5, prior=[], core_items=[("Heard", 6)])) == ["core_item"]
    assert rupture_hits(RULES, index=9.5, prior=[], core_items=[("Heard", 7)]) == []
    # Drop of exactly 1.0 from the previous check-in (10 → 9): a hit; 0.9 is not.
    assert rules_of(rupture_hits(RULES, index=9.0, prior=[10.0])) == ["drop"]
    assert rupture_hits(RULES, index=9.1, prior=[10.0]) == []
    assert rules_of(rupture_hits(RULES, index=9.5, prior=[], rupture_reported=True)) == [
        "client_reported"
    ]


def test_baseline_needs_three_prior_check_ins():
    # Prior 10, 9.5, 10: mean 9.833, SD 0.2887; 9.5 is 1.15 SD below, only 0.5 below the last.
    hits = rupture_hits(RULES, index=9.5, prior=[10.0, 9.5, 10.0])
    assert rules_of(hits) == ["baseline"]
    assert "1.15 SD below" in hits[0].text
    # Two prior: mean 9.8, SD 0.283, 9.2 is 2.1 SD below, but too few to judge by default.
    assert rupture_hits(RULES, index=9.2, prior=[10.0, 9.6]) == []
    assert rules_of(rupture_hits(RuptureRules(baseline_min_prior=2), index=9.2, prior=[10.0, 9.6])) == [
        "baseline"
    ]
    # No spread, no SD rule.
    assert rupture_hits(RULES, index=9.5, prior=[10.0, 10.0, 10.0]) == []


def test_first_check_in_gets_only_absolute_rules():
    hits = rupture_hits(RULES, index=5.0, prior=[], core_items=[("Heard", 5)], rupture_reported=True)
    assert rules_of(hits) == ["below_cutoff", "core_item", "client_reported"]


# --- Detection after a stored check-in ----------------------------------------------------------


def test_detection_runs_on_submit_and_appends(world_a):
    with_instruments(world_a)
    answering = Answering(world_a)
    answering.alliance(10)
    answering.alliance([10] * 7 + [6])  # index 9.5, one core item at 6
    with world_a.scope():
        alert = Alert.objects.get()
    assert (alert.kind, alert.status, alert.hits) == ("rupture", "open", 1)
    assert [r["rule"] for r in alert.reasons] == ["core_item"]
    assert alert.pre_drop_level == 10.0
    answering.alliance(8)  # index 8: below the cutoff and down 1.5
    with world_a.scope():
        alert = Alert.objects.get()  # still one alert
    assert alert.hits == 2
    assert [r["rule"] for r in alert.reasons] == ["core_item", "below_cutoff", "drop"]
    assert alert.severity == Alert.Severity.MEDIUM


def test_thresholds_come_from_the_practice(world_a):
    with_instruments(world_a)
    with world_a.scope():
        services.update_alert_settings(
            practice=world_a.practice, actor=world_a.admin, rupture_index_below=8.0
        )
    answering = Answering(world_a)
    answering.alliance([9, 8, 9, 8, 9, 8, 9, 8])  # 8.5: a rupture by default, not here
    with world_a.scope():
        assert not Alert.objects.exists()
    answering.alliance(7)  # 7.0 < 8.0 (and down 1.5)
    with world_a.scope():
        assert Alert.objects.get().kind == "rupture"


def test_settings_are_for_admins_and_checked(world_a):
    from django.core.exceptions import ValidationError

    with world_a.scope():
        with pytest.raises(ValidationError):
            services.update_alert_settings(
                practice=world_a.practice, actor=world_a.clinician, rupture_index_below=8.0
            )
        with pytest.raises(ValidationError):
            services.update_alert_settings(
                practice=world_a.practice, actor=world_a.admin, rupture_index_below=11
            )


def test_entered_in_error_check_ins_do_not_count(world_a):
    from feedback.services import mark_entered_in_error

    with_instruments(world_a)
    answering = Answering(world_a)
    answering.alliance(10)
    wrong = answering.alliance(10)
    with world_a.scope():
        mark_entered_in_error(
            practice=world_a.practice, actor=world_a.clinician, response=wrong, reason="Wrong client"
        )
    answering.alliance(9)  # compared with the first 10: a drop of 1.0
    with world_a.scope():
        alert = Alert.objects.get()
    assert [r["rule"] for r in alert.reasons] == ["drop"]


def test_repair_after_acknowledgement_at_the_pre_drop_level(world_a):
    with_instruments(world_a)
    answering = Answering(world_a)
    answering.alliance(10)
    answering.alliance(8)  # rupture, pre-drop level 10
    answering.alliance(10)  # back up, but nobody acknowledged: not a repair
    with world_a.scope():
        alert = Alert.objects.get()
        assert alert.status == "open"
        services.acknowledge_alert(
            practice=world_a.practice, actor=world_a.clinician, alert=alert,
            note="Ask how last week felt.",
        )
    answering.alliance([10, 10, 10, 10, 9, 9, 9, 9])  # 9.5: no rule hit, below 10
    with world_a.scope():
        assert Alert.objects.get().status == "acknowledged"
    repaired_by = answering.alliance(10)
    with world_a.scope():
        alert = Alert.objects.get()
    assert (alert.status, alert.repaired_how) == ("repaired", "auto")
    assert alert.repair_response_id == repaired_by.pk
    assert alert.time_to_acknowledge is not None and alert.time_to_repair is not None


def test_safety_alert_for_item_9_above_0_only(world_a):
    with_instruments(world_a)
    answering = Answering(world_a)
    answering.phq9(10, item9=0)
    with world_a.scope():
        assert not Alert.objects.exists()
    for value in (1, 2, 3):
        answering.phq9(12, item9=value)
        with world_a.scope():
            alert = Alert.objects.get(kind="safety", status="open")
            assert alert.severity == Alert.Severity.HIGH
            assert str(value) in alert.reasons[-1]["text"]
            services.acknowledge_alert(
                practice=world_a.practice, actor=world_a.clinician, alert=alert, note="Called."
            )
    with world_a.scope():
        assert Alert.objects.filter(kind="safety").count() == 3


# --- The clinician's actions through the pages --------------------------------------------------


def _alert_of(world, client=None):
    with_instruments(world)
    answering = Answering(world, client=client)
    answering.alliance(7)
    with world.scope():
        return Alert.objects.get(client=client or world.client)


def _url(world, client, alert, action):
    return world.url(f"alerts/clients/{client.pk}/{alert.pk}/{action}/")


def test_acknowledge_needs_a_note(world_a, as_member):
    alert = _alert_of(world_a)
    web = as_member(world_a.clinician)
    response = web.post(_url(world_a, world_a.client, alert, "acknowledge"), {"note": "  "})
    assert response.status_code == 400
    with world_a.scope():
        assert Alert.objects.get().status == "open"
    response = web.post(_url(world_a, world_a.client, alert, "acknowledge"), {"note": "Raise it first thing."})
    assert response.status_code == 302
    with world_a.scope():
        alert = Alert.objects.get()
    assert alert.status == "acknowledged" and alert.acknowledged_by == world_a.clinician
    assert alert.acknowledgement_note == "Raise it first thing."


def test_dismiss_needs_a_reason_and_repair_is_recorded(world_a, as_member):
    alert = _alert_of(world_a)
    web = as_member(world_a.clinician)
    assert web.post(_url(world_a, world_a.client, alert, "dismiss"), {"reason": ""}).status_code == 400
    assert web.post(_url(world_a, world_a.client, alert, "repair"), {"note": "Talked it through."}).status_code == 302
    with world_a.scope():
        alert = Alert.objects.get()
    assert (alert.status, alert.repaired_how, alert.repair_note) == ("repaired", "recorded", "Talked it through.")
    # Closed: nothing more to do with it.
    assert web.post(_url(world_a, world_a.client, alert, "dismiss"), {"reason": "x"}).status_code == 404


def test_dismiss(world_a, as_member):
    alert = _alert_of(world_a)
    web = as_member(world_a.admin)
    assert web.post(_url(world_a, world_a.client, alert, "dismiss"), {"reason": "Tested the form with the client."}).status_code == 302
    with world_a.scope():
        alert = Alert.objects.get()
    assert (alert.status, alert.dismissal_reason) == ("dismissed", "Tested the form with the client.")


@pytest.mark.parametrize("action", ["acknowledge", "repair", "dismiss"])
def test_others_get_404(world_a, world_b, as_member, action):
    alert = _alert_of(world_a)
    data = {"note": "n", "reason": "r"}
    # Another clinician of the practice, not on this client's care team.
    assert as_member(world_a.clinician2).post(_url(world_a, world_a.client, alert, action), data).status_code == 404
    # The client themselves.
    assert as_member(world_a.client.membership).post(_url(world_a, world_a.client, alert, action), data).status_code == 404
    # Another practice's member, with this practice's ids under their own practice.
    assert as_member(world_b.admin).post(_url(world_b, world_a.client, alert, action), data).status_code == 404
    # The right clinician, but the alert named under another of their clients.
    assert as_member(world_a.clinician).post(_url(world_a, world_a.shared_client, alert, action), data).status_code == 404
    with world_a.scope():
        assert Alert.objects.get().status == "open"


def test_entered_in_error_page(world_a, as_member):
    with_instruments(world_a)
    response = Answering(world_a).alliance(10)
    url = world_a.url(f"alerts/clients/{world_a.client.pk}/responses/{response.pk}/error/")
    assert as_member(world_a.clinician2).post(url, {"reason": "x"}).status_code == 404
    web = as_member(world_a.clinician)
    assert web.post(url, {"reason": ""}).status_code == 400
    assert web.post(url, {"reason": "The client's partner filled it in."}).status_code == 302
    response.refresh_from_db()
    assert response.entered_in_error_reason == "The client's partner filled it in."
    assert response.entered_in_error_by == world_a.clinician
    assert web.post(url, {"reason": "again"}).status_code == 404  # already marked


def test_alert_settings_page(world_a, as_member):
    url = world_a.url("alerts/settings/")
    assert as_member(world_a.clinician).get(url).status_code == 404
    web = as_member(world_a.admin)
    assert web.get(url).status_code == 200
    data = {
        "rupture_index_below": "8.5", "rupture_core_item_at_most": "5", "rupture_drop_at_least": "1.5",
        "rupture_baseline_sd": "1", "rupture_baseline_min_prior": "4", "safety_escalate_after_hours": "12",
        "crisis_resources": "Call 999.",
    }
    assert web.post(url, data).status_code == 302
    with world_a.scope():
        row = services.alert_settings(world_a.practice)
    assert (row.rupture_index_below, row.safety_escalate_after_hours, row.crisis_resources) == (8.5, 12, "Call 999.")


# --- E-mails: a link only -----------------------------------------------------------------------


def test_alert_emails_carry_no_score_or_name(world_a, django_capture_on_commit_callbacks):
    with_instruments(world_a)
    answering = Answering(world_a, client=world_a.shared_client)
    with django_capture_on_commit_callbacks(execute=True):
        answering.alliance([7, 7, 7, 7, 7, 7, 7, 5], rupture=True)
    with django_capture_on_commit_callbacks(execute=True):
        answering.phq9(17, item9=2)
    recipients = sorted(address for m in mail.outbox for address in m.to)
    team = sorted([world_a.clinician.user.email, world_a.clinician2.user.email])
    assert sorted(set(recipients)) == team
    client = world_a.shared_client
    for message in mail.outbox:
        text = message.subject + message.body
        for secret in (client.first_name, client.last_name, "6.75", "17", "rupture", "safety", "PHQ"):
            assert secret.lower() not in text.lower()
        assert "http://testserver/p/alpha/" in message.body
    with world_a.scope():
        kinds = set(Notification.objects.values_list("kind", "area"))
    assert kinds == {("rupture", "alerts"), ("safety", "alerts")}


# --- Caseload and client page -------------------------------------------------------------------


def test_caseload_puts_safety_first_then_ruptures(world_a, as_member):
    with_instruments(world_a)
    p = world_a.practice
    names = {}
    for name in ("Aaron", "Bea", "Cal", "Dee"):
        client = ClientFactory(practice=p, first_name=name, last_name="Test")
        AssignmentFactory(practice=p, client=client, clinician=world_a.clinician)
        names[name] = client
    Answering(world_a, client=names["Dee"]).phq9(12, item9=1)  # safety
    Answering(world_a, client=names["Cal"]).alliance(7)  # open rupture
    Answering(world_a, client=names["Bea"]).alliance(7)  # rupture, acknowledged
    with world_a.scope():
        services.acknowledge_alert(
            practice=p, actor=world_a.clinician, alert=Alert.objects.get(client=names["Bea"]), note="n"
        )
    page = as_member(world_a.clinician).get(world_a.url()).content.decode()
    titles = re.findall(r'class="card-title">(\w+) Test', page)
    assert titles[:3] == ["Dee", "Cal", "Bea"] and "Aaron" in titles[3:]
    assert "Safety alert" in page and "please acknowledge today" in page
    # The banner names Dee and links to the client page.
    banner = page[page.index("safety-banner"):page.index("caseload-heading")]
    assert "Dee Test" in banner and "Cal Test" not in banner


def test_client_page_shows_alerts_on_top_with_the_phq9_caveat(world_a, as_member):
    with_instruments(world_a)
    answering = Answering(world_a)
    answering.alliance(7)
    answering.phq9(12, item9=1)
    page = as_member(world_a.clinician).get(world_a.url(f"clients/{world_a.client.pk}/")).content.decode()
    assert page.index("Safety alert") < page.index("Possible rupture") < page.index("Care team")
    assert "does not rule out risk" in page
    assert 'style="' not in page


def _count(web, url):
    with CaptureQueriesContext(connection) as ctx:
        assert web.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_caseload_queries_do_not_grow(world_a, as_member):
    with_instruments(world_a)
    p = world_a.practice
    web = as_member(world_a.clinician)

    def add(n):
        for i in range(n):
            client = ClientFactory(practice=p)
            AssignmentFactory(practice=p, client=client, clinician=world_a.clinician)
            if i % 3 == 0:
                Answering(world_a, client=client).alliance(7)
            if i % 5 == 0:
                Answering(world_a, client=client).phq9(10, item9=1)

    add(8)
    few = _count(web, world_a.url())
    add(40)
    assert _count(web, world_a.url()) == few


def test_client_page_queries_do_not_grow(world_a, as_member):
    with_instruments(world_a)
    answering = Answering(world_a, start=timezone.now() - timedelta(days=200))
    web = as_member(world_a.clinician)
    url = world_a.url(f"clients/{world_a.client.pk}/")
    for i in range(5):
        answering.alliance(10 if i % 2 else 8)
        answering.phq9(10 + i)
    few = _count(web, url)
    for i in range(45):
        answering.alliance(10 if i % 2 else 8)
        answering.phq9(10 + i % 10)
    assert _count(web, url) == few


# --- The demo helper --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trajectory, expected",
    [
        ("steady", []),
        ("improving", []),
        ("repaired_rupture", [("rupture", "repaired", "auto")]),
        ("open_rupture", [("rupture", "open", "")]),
        ("safety", [("safety", "open", "")]),
    ],
)
def test_demo_history(world_a, trajectory, expected):
    from feedback.demo import seed_history

    with_instruments(world_a)
    responses = seed_history(world_a.practice, world_a.client, trajectory, world_a.clinician)
    assert len(responses) == 22  # 14 of 16 weekly check-ins answered, 8 PHQ-9s
    with world_a.scope():
        invitations = CheckinInvitation.objects.filter(client=world_a.client)
        assert invitations.filter(status="completed", response__isnull=False).count() == 14
        assert invitations.filter(status="expired").count() == 2
    assert seed_history(world_a.practice, world_a.client, trajectory, world_a.clinician) == []
    with world_a.scope():
        alerts = [(a.kind, a.status, a.repaired_how) for a in Alert.objects.all()]
    assert alerts == expected
