"""Object access for feedback views: one 404 for "not yours" and "does not exist"."""

from django.http import Http404

from accounts.models import Membership
from feedback.models import Instrument


def access_instrument(actor: Membership, instrument_id: int) -> Instrument:
    """An instrument of the practice in scope; only practice admins manage instruments."""
    if actor is None or actor.role != Membership.Role.ADMIN:
        raise Http404
    instrument = Instrument.objects.filter(pk=instrument_id).first()
    if instrument is None:
        raise Http404
    return instrument
