"""`python manage.py demo_totp EMAIL`: the current authenticator code of a (demo) user.

So the demo stays easy to try with MFA required for staff. Development only: it reads the
user's TOTP secret, which is exactly what must never be possible on a real installation.
"""

import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.mfa import current_totp_code
from accounts.models import User


class Command(BaseCommand):
    help = "Print a user's current TOTP code (DEBUG only; for the demo staff)."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        if not settings.DEBUG:
            raise CommandError("demo_totp refuses to run with DEBUG off.")
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user with the e-mail address {email}.")
        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            raise CommandError(f"{user.email} has no authenticator app set up.")
        now = time.time()
        left = mfa_settings.TOTP_PERIOD - int(now) % mfa_settings.TOTP_PERIOD
        self.stdout.write(current_totp_code(user, at=now))
        self.stderr.write(f"(valid for {left} more seconds; each code works once)")
