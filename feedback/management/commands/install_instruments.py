"""Install or update the shipped instruments: `python manage.py install_instruments [slug ...]`."""

from django.core.management.base import BaseCommand, CommandError

from feedback.services import install_standard_instruments
from portal.tenancy.models import Practice


class Command(BaseCommand):
    help = (
        "Give practices the instruments that come with Rapport (session check-in, PHQ-9, "
        "GAD-7), or bring them up to date. Idempotent. Without slugs: every practice."
    )

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="Practice slugs (default: all practices).")

    def handle(self, *args, slugs=(), **options):
        practices = Practice.objects.order_by("slug")
        if slugs:
            practices = practices.filter(slug__in=slugs)
            missing = set(slugs) - set(practices.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"No practice with slug: {', '.join(sorted(missing))}")
        for practice in practices:
            installed = install_standard_instruments(practice)
            self.stdout.write(f"{practice.slug}: {', '.join(i.name for i in installed)}")
