"""Append-only audit events: who did what to which object, when, from where. Never content.

`practice` is null only for account events (sign-in, sign-out, failed sign-in, MFA changes):
they belong to a person, who may be a member of several practices (or of none, for a failed
sign-in with an unknown address), not to one practice. A practice admin's viewer shows the
practice's events plus the account events of people who are members of that practice
(see selectors.events_for_practice).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.tenancy.context import require_practice
from portal.tenancy.models import Practice


class AuditLogIsAppendOnly(Exception):
    """An audit event was about to be changed or deleted."""


def _refuse(*args, **kwargs):
    raise AuditLogIsAppendOnly("Audit events are append-only: they are never changed or deleted.")


class AuditEventQuerySet(models.QuerySet):
    update = _refuse
    delete = _refuse
    bulk_update = _refuse
    update_or_create = _refuse
    _raw_delete = _refuse


class ScopedAuditManager(models.Manager.from_queryset(AuditEventQuerySet)):
    """Fail-closed like PracticeScopedManager: the practice in scope's own events only."""

    def get_queryset(self):
        return super().get_queryset().filter(practice_id=require_practice().pk)


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        # Account events (practice is null).
        SIGN_IN = "sign_in", "Signed in"
        SIGN_OUT = "sign_out", "Signed out"
        SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
        MFA_ADDED = "mfa_added", "Two-factor method added"
        MFA_REMOVED = "mfa_removed", "Two-factor method removed"
        RECOVERY_CODES_GENERATED = "recovery_codes_generated", "Recovery codes generated"
        # Staff access to a client's clinical data.
        VIEW_CLIENT = "view_client", "Viewed client"
        VIEW_PLAN = "view_plan", "Viewed treatment plan"
        CHANGE_PLAN = "change_plan", "Changed treatment plan"
        VIEW_CARE_RECORD = "view_care_record", "Viewed sessions, requests or ending plan"
        CHANGE_CARE_RECORD = "change_care_record", "Changed sessions, requests or ending plan"
        VIEW_CHECKINS = "view_checkins", "Viewed check-ins"
        CHANGE_CHECKINS = "change_checkins", "Changed check-in settings or responses"
        VIEW_ALERT = "view_alert", "Viewed alert"
        CHANGE_ALERT = "change_alert", "Changed alert"
        VIEW_REPORT = "view_report", "Viewed report"
        VIEW_CASELOAD_SUMMARY = "view_caseload_summary", "Viewed caseload summary"
        EXPORT = "export", "Exported data"
        DELETE_CLIENT = "delete_client", "Deleted client"
        # People and access.
        ROLE_CHANGE = "role_change", "Role changed"
        SECURITY_SETTING_CHANGED = "security_setting_changed", "Sign-in security changed"
        MEMBERSHIP_DEACTIVATED = "membership_deactivated", "Member deactivated"
        MEMBERSHIP_REACTIVATED = "membership_reactivated", "Member reactivated"
        INVITATION_SENT = "invitation_sent", "Invitation issued"
        INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
        VIEW_AUDIT_LOG = "view_audit_log", "Viewed audit log"
        DOWNLOAD_OWN_DATA = "download_own_data", "Downloaded own data"

    ACCOUNT_ACTIONS = (
        Action.SIGN_IN,
        Action.SIGN_OUT,
        Action.SIGN_IN_FAILED,
        Action.MFA_ADDED,
        Action.MFA_REMOVED,
        Action.RECOVERY_CODES_GENERATED,
    )

    # PROTECT: a practice with an audit trail is deactivated, never deleted by accident.
    practice = models.ForeignKey(
        Practice, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # No database constraint and DO_NOTHING: the event outlives the account (deleting a user
    # must not rewrite history with SET NULL); actor_email keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    target_type = models.CharField(max_length=100, blank=True)  # "app_label.model"
    target_id = models.BigIntegerField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Ids, counts and field names only (services.clean_detail enforces it): never content.
    detail = models.JSONField(default=dict, blank=True)

    objects = ScopedAuditManager()
    unscoped = models.Manager.from_queryset(AuditEventQuerySet)()

    class Meta:
        default_manager_name = "objects"
        base_manager_name = "unscoped"
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The viewer: a practice's events newest first, by action / actor / target type.
            models.Index(fields=["practice", "-created_at"], name="audit_practice_time"),
            models.Index(
                fields=["practice", "action", "-created_at"], name="audit_practice_action"
            ),
            models.Index(fields=["practice", "actor", "-created_at"], name="audit_practice_actor"),
            models.Index(
                fields=["practice", "target_type", "-created_at"], name="audit_practice_target"
            ),
            # Account events (practice null) of the practice's members.
            models.Index(fields=["actor", "-created_at"], name="audit_actor_time"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email or '-'} {self.action}"

    @property
    def target_label(self) -> str:
        if not self.target_type:
            return ""
        if self.target_id is None:
            return self.target_type
        return f"{self.target_type} #{self.target_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            _refuse()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse()


# For call sites: `from portal.audit.models import Action as Audit` ... Audit.VIEW_PLAN.
Action = AuditEvent.Action
