"""Give every existing practice the shipped instruments (session check-in, PHQ-9, GAD-7).

Practices created later get them from feedback.services.install_standard_instruments.
"""

from django.db import migrations


def install_for_existing_practices(apps, schema_editor):
    from feedback.instruments.install import install_definitions

    Practice = apps.get_model("tenancy", "Practice")
    models = {
        "InstrumentModel": apps.get_model("feedback", "Instrument"),
        "VersionModel": apps.get_model("feedback", "InstrumentVersion"),
        "ItemModel": apps.get_model("feedback", "InstrumentItem"),
    }
    for practice_id in Practice._base_manager.values_list("pk", flat=True):
        install_definitions(practice_id, **models)


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(install_for_existing_practices, migrations.RunPython.noop),
    ]
