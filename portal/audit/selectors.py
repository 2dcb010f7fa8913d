"""Reads for the audit viewer and its CSV export."""

from django.db.models import Q

from accounts.models import Membership
from portal.audit.models import AuditEvent


def member_user_ids(practice):
    """Users who are (or were) members of the practice: whose account events it may see."""
    return Membership.unscoped.filter(practice=practice, user__isnull=False).values("user_id")


def events_for_practice(
    practice, *, actor_id=None, action="", target_type="", since=None, until=None
):
    """The practice's events plus the account events (practice null) of its members, newest
    first, filtered. Deliberately through `unscoped`: account events belong to no practice."""
    events = AuditEvent.unscoped.filter(
        Q(practice=practice)
        | Q(
            practice__isnull=True,
            action__in=AuditEvent.ACCOUNT_ACTIONS,
            actor_id__in=member_user_ids(practice),
        )
    )
    if actor_id:
        events = events.filter(actor_id=actor_id)
    if action:
        events = events.filter(action=action)
    if target_type:
        events = events.filter(target_type=target_type)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events.order_by("-created_at", "-pk")


def actor_choices(practice) -> list[tuple[int, str]]:
    """Members of the practice with an account, for the actor filter."""
    members = (
        Membership.unscoped.filter(practice=practice, user__isnull=False)
        .select_related("user")
        .order_by("user__email")
    )
    return [(m.user_id, f"{m.display_name} ({m.user.email})") for m in members]
