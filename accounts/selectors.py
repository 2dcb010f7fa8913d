from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.models import Invitation, Membership


def staff_members() -> QuerySet:
    """Staff of the current practice with their open caseload size and latest invitation."""
    latest_first = Invitation.objects.order_by("-created_at")
    return (
        Membership.objects.filter(role__in=Membership.STAFF_ROLES)
        .select_related("user")
        .annotate(
            open_caseload=Count("assignments", filter=Q(assignments__ended_at__isnull=True))
        )
        .prefetch_related(Prefetch("invitations", queryset=latest_first, to_attr="invitations_newest_first"))
        .order_by("status", "email")
    )


def latest_invitation(membership: Membership) -> Invitation | None:
    newest = getattr(membership, "invitations_newest_first", None)
    if newest is not None:
        return newest[0] if newest else None
    return Invitation.objects.filter(membership=membership).order_by("-created_at").first()
