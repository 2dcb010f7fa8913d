from django.http import Http404

from accounts.models import Membership


def access_staff_member(actor: Membership, membership_id: int) -> Membership:
    """A staff membership of the current practice, for admins only; otherwise 404."""
    if actor.role != Membership.Role.ADMIN:
        raise Http404
    member = (
        Membership.objects.select_related("user")
        .filter(pk=membership_id, role__in=Membership.STAFF_ROLES)
        .first()
    )
    if member is None:
        raise Http404
    return member
