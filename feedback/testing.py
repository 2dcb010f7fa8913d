"""Test helpers for instruments and check-ins (see also portal/testing.py).

Factories write through `unscoped`, like portal.testing's. `PracticeWithInstrumentsFactory`
is a practice that has the shipped instruments, as every practice should once
accounts.services.create_practice installs them.
"""

import secrets
from datetime import timedelta

import factory
from django.utils import timezone

from feedback.models import CheckinInvitation, Instrument, InstrumentItem, InstrumentVersion
from feedback.services import install_standard_instruments
from portal.testing import PracticeFactory, UnscopedFactory


class PracticeWithInstrumentsFactory(PracticeFactory):
    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def instruments(self, create, extracted, **kwargs):
        if create:
            install_standard_instruments(self)


class InstrumentFactory(UnscopedFactory):
    """A small custom instrument: `InstrumentFactory(practice=p)` has version 1 with two
    questions answered 0–4 and summed; pass `items=3` for more."""

    class Meta:
        model = Instrument
        skip_postgeneration_save = True

    practice = factory.SubFactory(PracticeFactory)
    key = factory.Sequence(lambda n: f"custom-test-{n}")
    name = factory.Sequence(lambda n: f"Test instrument {n}")
    kind = Instrument.Kind.OUTCOME
    source = Instrument.Source.CUSTOM
    licence_note = "Test licence"

    @factory.post_generation
    def items(self, create, extracted, **kwargs):
        if not create:
            return
        version = InstrumentVersion.unscoped.create(
            practice=self.practice,
            instrument=self,
            number=1,
            scale_min=0,
            scale_max=4,
            anchors=[{"value": 0, "label": "Never"}, {"value": 4, "label": "Always"}],
            scoring_rule="sum",
            higher_is_better=False,
        )
        InstrumentItem.unscoped.bulk_create(
            InstrumentItem(
                practice=self.practice,
                version=version,
                key=f"q{n}",
                position=n,
                text=f"Question {n} of {self.name}",
            )
            for n in range(1, (extracted or 2) + 1)
        )


# --- Check-ins ---------------------------------------------------------------------------------


def latest_version(practice, key: str = "session-checkin") -> InstrumentVersion:
    return (
        InstrumentVersion.unscoped.filter(practice=practice, instrument__key=key)
        .order_by("-number")
        .first()
    )


def make_checkin(*, practice, client, version=None, channel="email", plan=None, session=None,
                 expires_in=timedelta(days=4), key=None, clinician=None, **fields):
    """An open check-in invitation, written directly (the services are tested apart).
    `version` defaults to the practice's session check-in (install the instruments first)."""
    now = fields.pop("due_at", None) or timezone.now()
    invitation = CheckinInvitation(
        practice=practice,
        client=client,
        plan=plan,
        instrument_version=version or latest_version(practice),
        session=session,
        clinician=clinician,
        occurrence_key=key or f"test:{secrets.token_hex(6)}",
        channel=channel,
        due_at=now,
        expires_at=now + expires_in,
        **fields,
    )
    invitation.assign_new_token()
    invitation.save()
    return invitation


SESSION_CHECKIN_ANSWERS = {
    "heard": 9, "my-goals": 8, "approach": 8, "pace": 7, "cared": 10, "challenged": 6,
    "say": 9, "overall": 8,
}


def form_answers(answers: dict | None = None, **extra) -> dict:
    """POST data for the check-in form: {"a-heard": "9", ...}."""
    answers = dict(SESSION_CHECKIN_ANSWERS if answers is None else answers) | extra
    return {f"a-{key}": str(value) for key, value in answers.items()}
