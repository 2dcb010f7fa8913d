from accounts.models import Membership
from portal.rls.db import rls_bypass


def active_membership_for(*, user, practice_slug: str) -> Membership | None:
    # Cross-practice by nature: this is how a request finds its practice in the first place.
    with rls_bypass():
        return (
            Membership.unscoped.select_related("practice", "user")
            .filter(
                user=user,
                practice__slug=practice_slug,
                practice__is_active=True,
                status=Membership.Status.ACTIVE,
            )
            .first()
        )


def active_memberships_of(user) -> list[Membership]:
    """Every practice the user may enter, for the practice picker."""
    with rls_bypass():  # the user's own memberships, across practices
        return list(
            Membership.unscoped.select_related("practice")
            .filter(user=user, practice__is_active=True, status=Membership.Status.ACTIVE)
            .order_by("practice__name")
        )
