"""Test data for exports and deletion: one client with something in every table that can name
them, every text carrying a marker so a leftover is easy to find."""

from types import SimpleNamespace

from feedback.models import Alert
from feedback.services import install_standard_instruments
from feedback.services.responses import mark_entered_in_error, submit_response
from feedback.testing import SESSION_CHECKIN_ANSWERS, latest_version
from portal.tenancy.context import practice_scope
from portal.testing import (
    AgendaItemFactory,
    CareRequestFactory,
    TerminationPlanFactory,
    TherapySessionFactory,
    make_plan,
)

PHQ9_ANSWERS = {f"phq9-{n}": 1 for n in range(1, 10)} | {"phq9-9": 0, "difficulty": 2}


def populate(world, client=None, marker="Qqmarker"):
    """Fill `world.practice` with one client's care record and check-ins; returns the parts."""
    p, client = world.practice, client or world.client
    install_standard_instruments(p)
    parts = SimpleNamespace(client=client, marker=marker)
    parts.plan = make_plan(practice=p, client=client, clinician=world.clinician, text=f"{marker} plan")
    parts.session = TherapySessionFactory(practice=p, client=client, clinician=world.clinician)
    parts.agenda = AgendaItemFactory(practice=p, client=client, session=parts.session,
                                     text=f"{marker} agenda", created_by=client.membership)
    parts.request = CareRequestFactory(practice=p, client=client, kind="slower",
                                       reason=f"{marker} reason", created_by=client.membership)
    parts.ending = TerminationPlanFactory(practice=p, client=client, created_by=world.clinician,
                                          after_care=f"{marker} after care")
    with practice_scope(p):
        checkin = latest_version(p, "session-checkin")
        answers = SESSION_CHECKIN_ANSWERS | {"rupture": "yes", "rupture-detail": f"{marker} moment",
                                             "do-differently": f"{marker} differently"}
        parts.checkin = submit_response(practice=p, client=client, version=checkin, answers=answers,
                                        channel="portal", respondent=client.membership,
                                        session=parts.session)
        parts.phq9 = submit_response(practice=p, client=client, version=latest_version(p, "phq9"),
                                     answers=PHQ9_ANSWERS, channel="email")
        parts.mistake = submit_response(practice=p, client=client, version=checkin,
                                        answers=SESSION_CHECKIN_ANSWERS, channel="in_session")
        mark_entered_in_error(practice=p, actor=world.clinician, response=parts.mistake,
                              reason=f"{marker} wrong person")
        parts.alert = Alert.objects.filter(client=client).first()
        if parts.alert is None:
            parts.alert = Alert.objects.create(practice=p, client=client, kind="rupture", severity=1,
                                               response=parts.checkin)
        parts.alert.acknowledgement_note = f"{marker} clinician note"
        parts.alert.reasons = parts.alert.reasons + [{"rule": "reported", "text": f"{marker} reason text"}]
        parts.alert.save()
    return parts
