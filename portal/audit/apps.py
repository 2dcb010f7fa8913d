from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "portal.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self):
        # allauth's and Django's signals are the libraries' integration points for sign-in,
        # sign-out, failures and MFA changes: the receivers only call services.record_event.
        from portal.audit import receivers, triggers

        receivers.connect()
        triggers.allow_truncate_in_flush()
