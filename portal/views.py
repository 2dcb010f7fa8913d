from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import Membership
from accounts.services import create_practice
from care.selectors import clients as care_selectors
from feedback.selectors import alerts as alert_selectors
from feedback.selectors import caseload as caseload_selectors
from portal.forms import PracticeForm
from portal.links import link_by_id
from portal.tenancy.selectors import active_memberships_of


def home(request):
    """Signed out: what Rapport is. Signed in: the user's only practice, or a picker."""
    if not request.user.is_authenticated:
        return render(request, "portal/landing.html")
    memberships = active_memberships_of(request.user)
    if len(memberships) == 1:
        return redirect("practice_home", practice_slug=memberships[0].practice.slug)
    return render(request, "portal/picker.html", {"memberships": memberships})


@login_required
@require_http_methods(["GET", "POST"])
def new_practice(request):
    form = PracticeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            practice = create_practice(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)  # a dict of field errors lands on those fields
        else:
            messages.success(request, f"{practice.name} is ready. You are its practice admin.")
            return redirect("practice_home", practice_slug=practice.slug)
    return render(request, "portal/new_practice.html", {"form": form})


def practice_home(request):
    membership = request.membership
    if membership.role == Membership.Role.CLIENT:
        client = care_selectors.client_for_membership(membership)
        team = care_selectors.care_team(client) if client else []
        return render(request, "care/client_home.html", {"client": client, "care_team": team})
    search = request.GET.get("q", "").strip()[:100]
    need = request.GET.get("need", "")
    rows = caseload_selectors.caseload_rows(membership, search=search)
    shown = caseload_selectors.filter_rows(rows, need)
    client_url = link_by_id("care:client", "client_id", practice_slug=request.practice.slug)
    for row in shown:
        row.url = client_url(row.client.pk)
    context = {
        "caseload": shown,
        "caseload_total": len(rows),
        "reason_counts": [
            (key, caseload_selectors.REASONS[key], n)
            for key, n in caseload_selectors.reason_counts(rows).items()
        ],
        "need": need if need == "attention" or need in caseload_selectors.REASONS else "",
        "search": search,
        "safety_alerts": alert_selectors.attention_for(membership),
    }
    if membership.role == Membership.Role.ADMIN:
        context["client_count"] = care_selectors.practice_clients().count()
        context["staff_count"] = Membership.objects.filter(
            role__in=Membership.STAFF_ROLES, status=Membership.Status.ACTIVE
        ).count()
    return render(request, "care/caseload.html", context)
