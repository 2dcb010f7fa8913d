"""No clinical content in application logs (issue 6): the main flows run with every logger at
DEBUG, and the distinctive words typed into them appear in no log record and no audit detail.

Runs with DEBUG off, as production does: with DEBUG on, Django's SQL log (django.db.backends)
prints query parameters, which is why production never runs with DEBUG on.
"""

import logging

import pytest
from django.test import Client as HttpClient

from feedback.models import Alert, CheckinResponse
from feedback.testing import form_answers, make_checkin
from feedback.tests.checkin_support import checkin_world
from portal.audit.models import AuditEvent
from portal.testing import make_plan

SECRETS = {
    "checkin": "Quokkasorrow checkin words",
    "rupture": "Marmosetgrief rupture detail",
    "staff_comment": "Pangolinworry staff comment",
    "client_comment": "Narwhalshame client comment",
    "agenda": "Axolotlfear agenda topic",
    "request": "Capybaradread request reason",
    "ack": "Tapirdespair acknowledgement",
    "password": "Okapi-secret-password-9",
}


@pytest.fixture
def every_log_record(caplog):
    """caplog at DEBUG on every logger, including ones that do not propagate to the root."""
    manager = logging.root.manager
    loggers = [logging.root] + [
        logging.getLogger(name) for name in list(manager.loggerDict)
        if isinstance(manager.loggerDict[name], logging.Logger)
    ]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    attached = []
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if not lg.propagate and caplog.handler not in lg.handlers:
            lg.addHandler(caplog.handler)
            attached.append(lg)
    caplog.handler.setLevel(logging.DEBUG)
    yield caplog
    for lg in attached:
        lg.removeHandler(caplog.handler)
    for lg, level, disabled in saved:
        lg.setLevel(level)
        lg.disabled = disabled


def _text_of(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), record.exc_text or "", record.name]
    parts += [repr(v) for k, v in vars(record).items() if k not in logging.LogRecord.__dict__]
    return "\n".join(parts)


def test_the_main_flows_log_no_clinical_content(world_a, every_log_record):
    world = checkin_world(world_a)
    parts = make_plan(practice=world.practice, client=world.client, clinician=world.clinician)
    base = f"clients/{world.client.pk}/"

    # The client answers a check-in from the e-mailed link, with free text and a rupture.
    checkin = make_checkin(practice=world.practice, client=world.client,
                           clinician=world.clinician)
    answers = form_answers(**{"do-differently": SECRETS["checkin"], "rupture": "yes",
                              "rupture-detail": SECRETS["rupture"]})
    assert HttpClient().post(f"/c/{checkin.token}/", answers).status_code == 200
    assert CheckinResponse.unscoped.filter(client=world.client).exists()

    # The client, signed in: a plan comment, an agenda topic, a request to slow down.
    me = HttpClient()
    me.force_login(world.client.membership.user)
    assert me.post(world.url("my/plan/comment/"),
                   {"body": SECRETS["client_comment"]}).status_code == 302
    assert me.post(world.url("my/agenda/"),
                   {"kind": "discuss", "text": SECRETS["agenda"]}).status_code == 302
    assert me.post(world.url("my/requests/new/"),
                   {"kind": "slower", "reason": SECRETS["request"]}).status_code == 302

    # The clinician reads it all, comments, and acknowledges the rupture alert.
    staff = HttpClient()
    staff.force_login(world.clinician.user)
    for page in (base, f"{base}plan/", f"{base}sessions/", f"{base}requests/",
                 f"checkins/{base}"):
        assert staff.get(world.url(page)).status_code == 200, page
    assert staff.post(world.url(f"{base}plan/comment/"),
                      {"body": SECRETS["staff_comment"]}).status_code == 302
    alert = Alert.unscoped.get(client=world.client, kind=Alert.Kind.RUPTURE)
    ack = world.url(f"alerts/{base}{alert.pk}/acknowledge/")
    assert staff.get(ack).status_code == 200
    assert staff.post(ack, {"note": SECRETS["ack"]}).status_code == 302

    # A failed sign-in with a typed password.
    HttpClient().post("/accounts/login/", {"login": world.clinician.user.email,
                                           "password": SECRETS["password"]})

    # The flows did run (so a silent failure cannot pass this test) ...
    records = every_log_record.records
    assert records, "nothing was logged at all: the capture is not working"
    events = AuditEvent.unscoped.all()
    assert {"view_plan", "change_plan", "view_alert", "change_alert", "sign_in_failed"} <= {
        e.action for e in events
    }
    assert parts.plan.pk in {e.target_id for e in events if e.action == "view_plan"}
    # ... and nothing typed into them reached a log record or an audit event.
    logged = "\n".join(_text_of(r) for r in records)
    audited = "\n".join(f"{e.detail} {e.target_type} {e.actor_email} {e.user_agent}"
                        for e in events)
    for name, secret in SECRETS.items():
        word = secret.split()[0]
        assert word not in logged, f"{name} text appears in the application log"
        assert word not in audited, f"{name} text appears in an audit event"
