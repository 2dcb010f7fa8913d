"""Object access for care views: one 404 for "not yours" and "does not exist"."""

from django.http import Http404

from accounts.models import Membership
from care.models import Client


def access_client(actor: Membership, client_id: int) -> Client:
    """The client `actor` may see: admins any in the practice, clinicians their caseload,
    clients only themselves."""
    clients = Client.objects.select_related("membership", "membership__user")
    if actor.role == Membership.Role.CLINICIAN:
        clients = clients.filter(assignments__clinician=actor, assignments__ended_at__isnull=True)
    elif actor.role == Membership.Role.CLIENT:
        clients = clients.filter(membership=actor)
    elif actor.role != Membership.Role.ADMIN:
        raise Http404
    client = clients.filter(pk=client_id).first()
    if client is None:
        raise Http404
    return client


def access_care_team_member(client: Client, membership_id: int) -> Membership:
    """A clinician currently working with `client` (active or not, so a deactivated
    clinician's clients can still be moved)."""
    member = (
        Membership.objects.select_related("user")
        .filter(pk=membership_id, assignments__client=client, assignments__ended_at__isnull=True)
        .first()
    )
    if member is None:
        raise Http404
    return member


def access_own_client(actor: Membership) -> Client:
    """A client's own record, for the pages under /p/<slug>/my/."""
    if actor.role != Membership.Role.CLIENT:
        raise Http404
    client = Client.objects.select_related("membership").filter(membership=actor).first()
    if client is None:
        raise Http404
    return client


def client_in_view(request, client_id: int | None = None) -> Client:
    """The client a shared staff/client view is about: staff name one by id (care: URLs),
    a client is always themselves (my: URLs, no id)."""
    if client_id is None:
        return access_own_client(request.membership)
    return access_client(request.membership, client_id)
