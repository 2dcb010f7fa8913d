"""Shared pieces for the check-in tests: worlds with instruments, a movable clock, SMTP
stand-ins."""

import re
import smtplib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import User
from care.models import Client
from feedback.models import CheckinInvitation, FeedbackSettings, Instrument, MeasurementPlan
from feedback.services import install_standard_instruments
from feedback.testing import latest_version
from portal.testing import TherapySessionFactory

LINK = re.compile(r"http://testserver/c/([a-z2-7\-]+)/")
LOCMEM = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def browser_for(membership) -> HttpClient:
    http = HttpClient()
    http.force_login(membership.user)
    return http


def rename(membership, first, last):
    User.objects.filter(pk=membership.user_id).update(first_name=first, last_name=last)
    membership.user.refresh_from_db()


def checkin_world(world, *, names=None):
    """A practice world with the shipped instruments, no quiet hours (so a test does not depend
    on the hour it runs at) and fixed names: clinician Cleo Carefield, client Kim Solo."""
    install_standard_instruments(world.practice)
    FeedbackSettings.unscoped.update_or_create(
        practice=world.practice, defaults={"quiet_hours_start": None, "quiet_hours_end": None}
    )
    first, last = names or ("Kim", "Solo")
    rename(world.clinician, "Cleo", "Carefield")
    rename(world.admin, "Ada", "Adminton")
    Client.unscoped.filter(pk=world.client.pk).update(first_name=first, last_name=last)
    world.client.refresh_from_db()
    rename(world.client.membership, first, last)
    world.version = latest_version(world.practice)
    world.instrument = Instrument.unscoped.get(practice=world.practice, key="session-checkin")
    world.phq9 = Instrument.unscoped.get(practice=world.practice, key="phq9")
    return world


def plan_for(world, client=None, **values) -> MeasurementPlan:
    """A plan written through the service (defaults: after every session, e-mail)."""
    from feedback.services.plans import create_measurement_plan

    with world.scope():
        return create_measurement_plan(
            practice=world.practice, actor=world.clinician, client=client or world.client,
            instrument=values.pop("instrument", world.instrument), **values,
        )


def plans_began(world, at: datetime, **filters) -> None:
    """Backdate the practice's measurement plans to `at`: both the moment counting starts and
    the first day (sessions before a plan's first day never count, so moving only the moment
    makes a test depend on the hour it runs at)."""
    MeasurementPlan.unscoped.filter(practice=world.practice, **filters).update(
        counting_from=at, starts_on=timezone.localdate(at, ZoneInfo(world.practice.time_zone))
    )


def attended_session(world, client=None, *, ago=timedelta(hours=2), minutes=50, clinician=None):
    return TherapySessionFactory(
        practice=world.practice,
        client=client or world.client,
        clinician=clinician or world.clinician,
        starts_at=timezone.now() - ago,
        duration_minutes=minutes,
        status="attended",
    )


def invitations_of(world) -> list[CheckinInvitation]:
    return list(CheckinInvitation.unscoped.filter(practice=world.practice).order_by("pk"))


def token_in(message) -> str:
    match = LINK.search(message.body)
    assert match, f"no check-in link in:\n{message.body}"
    return match.group(1)


class Clock:
    """timezone.now(), moved by the test (only for code that calls timezone.now())."""

    def __init__(self, monkeypatch):
        self.now = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when

    def advance(self, **delta) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


class DisconnectedBackend(BaseEmailBackend):
    """An SMTP server that drops the connection on every send."""

    attempts = 0

    def send_messages(self, email_messages):
        type(self).attempts += 1
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that rejects the recipient for good (a 550)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused(
            {m.to[0]: (550, b"No such user") for m in email_messages}
        )


@pytest.fixture
def smtp_down(settings):
    DisconnectedBackend.attempts = 0
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.DisconnectedBackend"}}
    return DisconnectedBackend
