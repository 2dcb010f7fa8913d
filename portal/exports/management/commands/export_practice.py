"""python manage.py export_practice SLUG --format fhir|csv --out PATH

The same writers as the admin page's export job (portal.exports.services.write_export): FHIR
as one JSON Bundle file; CSV as a zip when PATH ends in .zip, else a directory of CSV files.
"""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal.exports import services
from portal.exports.models import ExportJob
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice


class Command(BaseCommand):
    help = "Export one practice: CSV per table, or instruments and check-ins as a FHIR R4 Bundle."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the practice's slug (as in /p/<slug>/)")
        parser.add_argument("--format", required=True, choices=ExportJob.Format.values)
        parser.add_argument("--out", required=True, type=Path,
                            help="file to write (FHIR: .json; CSV: .zip), or a directory for CSV")

    def handle(self, *args, slug, format, out, **options):
        practice = Practice.objects.filter(slug=slug).first()
        if practice is None:
            raise CommandError(f"No practice with the slug {slug!r}.")
        if format == ExportJob.Format.FHIR and out.is_dir():
            raise CommandError("--out must be a file for the FHIR format, not a directory.")
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} exists already: choose a new path.")
        if not out.parent.is_dir():
            raise CommandError(f"The folder {out.parent} does not exist.")
        with practice_scope(practice):
            try:
                summary = services.write_export(
                    practice=practice, format=format, out=out,
                    progress=lambda percent: self.stderr.write(f"\r{percent:3d}%", ending=""),
                )
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from error
            services.record_command_export(practice=practice, format=format)
        self.stderr.write("\r100%")
        details = ", ".join(f"{v} {k}" for k, v in summary.items())
        self.stdout.write(self.style.SUCCESS(f"Exported {practice.slug} as {format} to {out} ({details})."))
