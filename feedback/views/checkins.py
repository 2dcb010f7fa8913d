"""Taking a check-in: from the e-mailed (or QR) link without signing in, from the client portal,
and "check in now" for the clinician in session. Thin: access, forms, services."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import Membership
from care.access import access_client, access_own_client
from feedback.forms.checkins import CheckinForm, posted_answers
from feedback.forms.plans import CheckinNowForm, add_service_error
from feedback.models import CheckinInvitation
from feedback.qr import qr_svg
from feedback.selectors import checkins as selectors
from feedback.selectors import version_items
from feedback.services import checkins as services
from feedback.services.plans import checkin_preferences
from portal.audit.models import Action as Audit
from portal.audit.services import record_request_event
from portal.tenancy.access import require_role
from portal.tenancy.context import practice_scope

staff_only = require_role(Membership.Role.ADMIN, Membership.Role.CLINICIAN)
client_only = require_role(Membership.Role.CLIENT)

# HTTP status of the page for a link that can't be used (any more).
CLOSED_STATUS = {"invalid": 404, "expired": 410, "cancelled": 410, "used": 410}


def _closed(request, state: str, *, practice=None, via: str = services.LINK, invitation=None):
    return render(
        request,
        "feedback/checkins/closed.html",
        {"state": state, "practice": practice, "via": via, "invitation": invitation},
        status=CLOSED_STATUS.get(state, 410) if via == services.LINK else 200,
    )


def _take(request, *, practice, invitation, via, respondent, page: dict):
    """The form (GET), or store the answers and confirm (POST). The same for link and portal."""
    version = invitation.instrument_version
    data = request.POST if request.method == "POST" else None
    error = None
    if data is not None:
        try:
            completion = services.complete_checkin(
                practice=practice, invitation=invitation, answers=posted_answers(data), via=via,
                respondent=respondent,
            )
        except services.CheckinUnavailable as unavailable:
            return _closed(request, unavailable.state, practice=practice, via=via,
                           invitation=invitation)
        except ValidationError as refused:
            error = refused
        else:
            return render(
                request,
                "feedback/checkins/done.html",
                {**page, "practice": practice, "invitation": invitation,
                 "response": completion.response, "via": via, "items": completion.items},
            )
    # The form's items are loaded only to show it (a stored submit has its own, read under lock).
    form = CheckinForm(version, version_items(version), data)
    if error is not None:
        form.add_error(error)
    return render(
        request,
        "feedback/checkins/take.html",
        {**page, "practice": practice, "invitation": invitation, "form": form, "via": via,
         "instrument": version.instrument},
        status=400 if form.has_errors else 200,
    )


# --- The link: no sign-in, one survey, outside /p/<slug>/ ---------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def checkin_link(request, token):
    """/c/<token>/: shows only the practice's name and the clinician's first name."""
    showing = request.method == "GET"
    invitation = services.find_checkin_by_token(token, with_client=showing)
    if invitation is None or not invitation.practice.is_active:
        return _closed(request, "invalid")
    practice = invitation.practice
    with practice_scope(practice), timezone.override(ZoneInfo(practice.time_zone)):
        # A submit is checked by complete_checkin, under the invitation's lock, with the same
        # outcome (the same closed page), so only the form is checked here.
        state = services.availability(invitation) if showing else None
        if state == CheckinInvitation.Status.COMPLETED:
            return _closed(request, "used", practice=practice, invitation=invitation)
        if state in (CheckinInvitation.Status.EXPIRED, CheckinInvitation.Status.CANCELLED):
            return _closed(request, state, practice=practice, invitation=invitation)
        respondent = _signed_in_client(request, invitation)
        first_name = invitation.clinician.user.first_name if (
            invitation.clinician and invitation.clinician.user) else ""
        return _take(
            request, practice=practice, invitation=invitation, via=services.LINK,
            respondent=respondent,
            page={"clinician_first_name": first_name, "action": request.path},
        )


def _signed_in_client(request, invitation) -> Membership | None:
    """The client's membership, when the person answering is signed in as that client."""
    if not request.user.is_authenticated:
        return None
    return Membership.objects.filter(
        client_records=invitation.client_id, user=request.user
    ).first()


# --- The client portal ---------------------------------------------------------------------


@client_only
def my_checkins(request):
    client = access_own_client(request.membership)
    return render(
        request,
        "feedback/checkins/my_list.html",
        {
            "client": client,
            "open_checkins": selectors.open_checkins_of(client),
            "answered": selectors.answered_checkins_of(client),
            "preferences": checkin_preferences(client),
        },
    )


@client_only
@never_cache
@require_http_methods(["GET", "POST"])
def my_checkin(request, checkin_id):
    client = access_own_client(request.membership)
    invitation = (
        CheckinInvitation.objects.select_related("instrument_version__instrument", "client")
        .filter(client=client, pk=checkin_id)
        .first()
    )
    if invitation is None:
        raise Http404
    invitation.client = client
    state = services.availability(invitation)
    if state == CheckinInvitation.Status.COMPLETED and request.method == "GET":
        return _closed(request, "used", practice=request.practice, via=services.PORTAL,
                       invitation=invitation)
    if state in (CheckinInvitation.Status.EXPIRED, CheckinInvitation.Status.CANCELLED):
        return _closed(request, state, practice=request.practice, via=services.PORTAL,
                       invitation=invitation)
    return _take(
        request, practice=request.practice, invitation=invitation, via=services.PORTAL,
        respondent=request.membership,
        page={"action": request.path},
    )


# --- In session: "check in now" ---------------------------------------------------------------


@staff_only
@require_http_methods(["GET", "POST"])
def checkin_now(request, client_id):
    client = access_client(request.membership, client_id)
    form = CheckinNowForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.start_in_session_checkin(
                practice=request.practice, actor=request.membership, client=client,
                instrument=form.cleaned_data["instrument"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            record_request_event(request, Audit.CHANGE_CHECKINS, target=invitation)
            return redirect(
                "feedback:checkin_qr", practice_slug=request.practice.slug,
                client_id=client.pk, checkin_id=invitation.pk,
            )
    return render(request, "feedback/checkins/now.html", {"client": client, "form": form})


@staff_only
@never_cache
def checkin_qr(request, client_id, checkin_id):
    client = access_client(request.membership, client_id)
    invitation = (
        CheckinInvitation.objects.select_related("instrument_version__instrument", "session")
        .filter(client=client, pk=checkin_id, channel=CheckinInvitation.Channel.IN_SESSION)
        .first()
    )
    if invitation is None:
        raise Http404
    context = {"client": client, "invitation": invitation}
    if invitation.is_open:
        path = reverse("checkin_link", args=[invitation.short_code])
        url = settings.SITE_URL + path
        context.update(
            url=url,
            short_link=url.split("://", 1)[-1],
            qr=qr_svg(url, label=f"QR code for the check-in link {url}"),
        )
    return render(request, "feedback/checkins/qr.html", context)
