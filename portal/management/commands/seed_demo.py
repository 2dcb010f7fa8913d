"""Demo practices for trying Rapport: `python manage.py seed_demo` (safe to run again)."""

import base64

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.mfa import enroll_totp
from accounts.models import Membership, User
from care.models import CaseloadAssignment, Client
from feedback.services import install_standard_instruments
from feedback.services.reports import start_run
from portal.demo_care import seed_care
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice

PASSWORD = "rapport-demo"

PRACTICES = {
    "northside": {
        "name": "Northside Counselling",
        "time_zone": "Europe/London",
        "admin": ("Helen", "Okafor"),
        "clinician": ("Sam", "Whitfield"),
        "clinician2": ("Priya", "Raman"),
        "clients": [
            ("Maya", "Lindqvist"), ("Daniel", "Osei"), ("Rosa", "Martínez"), ("Tom", "Becker"),
            ("Aisha", "Rahman"), ("Liam", "O'Connor"), ("Grace", "Nakamura"), ("Ben", "Kowalski"),
            ("Chloe", "Dubois"), ("Ethan", "Mwangi"),
        ],
    },
    "riverbend": {
        "name": "Riverbend Psychotherapy",
        "time_zone": "America/Chicago",
        "admin": ("Marcus", "Feld"),
        "clinician": ("Laura", "Chen"),
        "clinician2": ("Jonah", "Adeyemi"),
        "clients": [
            ("Sofia", "Russo"), ("Noah", "Fischer"), ("Amara", "Eze"), ("Lucas", "Silva"),
            ("Hannah", "Brooks"), ("Omar", "Haddad"), ("Emily", "Novak"), ("Kai", "Tanaka"),
            ("Zoe", "Papadopoulos"),
        ],
    },
}


def demo_totp_secret(email: str) -> str:
    """A TOTP secret fixed per installation and address (derived from SECRET_KEY): the demo
    staff can add it to a real authenticator app once and keep using it after a re-seed."""
    digest = salted_hmac("rapport.demo-totp", email, algorithm="sha256").digest()
    return base64.b32encode(digest[:20]).decode()


def demo_user(email: str, first_name: str, last_name: str) -> User:
    user, created = User.objects.get_or_create(
        email=email, defaults={"first_name": first_name, "last_name": last_name}
    )
    if created:
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def demo_membership(practice, user, role) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        user=user,
        defaults={
            "practice": practice,
            "email": user.email,
            "role": role,
            "status": Membership.Status.ACTIVE,
        },
    )
    return membership


class Command(BaseCommand):
    help = "Create the demo practices northside and riverbend (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    @transaction.atomic
    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo refuses to run with DEBUG off (use --force).")
        for slug, spec in PRACTICES.items():
            practice, _ = Practice.objects.get_or_create(
                slug=slug, defaults={"name": spec["name"], "time_zone": spec["time_zone"]}
            )
            with practice_scope(practice):
                install_standard_instruments(practice)
                self.seed_practice(practice, slug, spec)
                seed_care(practice)
                # The trend reports, as the nightly job would: queued for the worker.
                start_run(practice=practice, actor=None)
            self.stdout.write(f"{practice.name}: /p/{slug}/")
        self.stdout.write(f"Every demo user's password is {PASSWORD!r}.")
        self.stdout.write(
            "Staff sign in with a second factor: `python manage.py demo_totp <e-mail>` prints "
            "the current code."
        )

    def seed_practice(self, practice, slug, spec):
        staff = {}
        for key, role in [
            ("admin", Membership.Role.ADMIN),
            ("clinician", Membership.Role.CLINICIAN),
            ("clinician2", Membership.Role.CLINICIAN),
        ]:
            user = demo_user(f"{key}@{slug}.test", *spec[key])
            staff[key] = demo_membership(practice, user, role)
            # Staff must use MFA: the demo staff have an authenticator app already, whose code
            # `python manage.py demo_totp <e-mail>` prints (see README, "Demo logins").
            enroll_totp(user, demo_totp_secret(user.email))
        for number, (first, last) in enumerate(spec["clients"], start=1):
            user = demo_user(f"client{number}@{slug}.test", first, last)
            membership = demo_membership(practice, user, Membership.Role.CLIENT)
            client, _ = Client.objects.get_or_create(
                membership=membership,
                defaults={"practice": practice, "first_name": first, "last_name": last},
            )
            # Odd clients with the first clinician, even with the second; every third shared.
            team = [staff["clinician"] if number % 2 else staff["clinician2"]]
            if number % 3 == 0:
                team = [staff["clinician"], staff["clinician2"]]
            for clinician in team:
                CaseloadAssignment.objects.get_or_create(
                    client=client,
                    clinician=clinician,
                    ended_at=None,
                    defaults={"practice": practice, "started_at": timezone.now()},
                )
