from django.db import migrations


def encrypt_existing(apps, schema_editor):
    from accounts.mfa_secrets import encrypt_stored_secrets

    Authenticator = apps.get_model("mfa", "Authenticator")
    encrypt_stored_secrets(Authenticator.objects.filter(type__in=["totp", "recovery_codes"]))


class Migration(migrations.Migration):
    """TOTP keys and recovery-code seeds written before accounts.mfa_secrets are encrypted."""

    dependencies = [("accounts", "0001_initial"), ("mfa", "0003_authenticator_type_uniq")]

    operations = [migrations.RunPython(encrypt_existing, migrations.RunPython.noop)]
