"""Instrument pages for practice admins. Thin: access helpers, selectors, forms, services."""

import math

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Membership
from feedback import scoring, selectors, services
from feedback.access import access_instrument
from feedback.forms import CustomInstrumentForm, add_service_error
from portal.tenancy.access import require_role

_require_admin = require_role(Membership.Role.ADMIN)


@_require_admin
def instrument_list(request):
    return render(
        request, "feedback/instrument_list.html", {"instruments": selectors.instruments_overview()}
    )


@_require_admin
def instrument_detail(request, instrument_id):
    instrument = access_instrument(request.membership, instrument_id)
    versions = selectors.versions_of(instrument)
    if not versions:
        raise Http404
    wanted = request.GET.get("version", "")
    version = next((v for v in versions if str(v.number) == wanted), versions[0])
    items = selectors.version_items(version)
    subscales = {s["key"]: s["label"] for s in version.subscales}
    spec = version.spec(items)
    safety_items = []
    for item, item_spec in zip(items, spec.items, strict=True):
        item.tags = _tags(item, subscales)
        if item.flag == scoring.SAFETY:
            item.lowest = spec.range_of(item_spec)[0]
            safety_items.append(item)
    jacobson_truax = None
    if version.reliable_change_sd and version.reliable_change_reliability is not None:
        jacobson_truax = scoring.JACOBSON_TRUAX_CRITICAL * math.sqrt(2) * scoring.standard_error(
            version.reliable_change_sd, version.reliable_change_reliability
        )
    return render(
        request,
        "feedback/instrument_detail.html",
        {
            "instrument": instrument,
            "version": version,
            "is_current": version == versions[0],
            "versions": versions,
            "items": items,
            "scale_points": sorted(version.anchors, key=lambda a: a["value"]),
            "scoring_text": _scoring_text(version, sum(1 for item in items if item.counts)),
            "subscales": version.subscales,
            "jacobson_truax": jacobson_truax,
            "safety_items": safety_items,
        },
    )


def _tags(item, subscales: dict) -> list[tuple[str, bool]]:
    """What to say about a question, as (words, is_a_warning)."""
    tags = []
    if item.response_kind != scoring.SCALE:
        tags.append((item.get_response_kind_display(), False))
    if not item.required:
        tags.append(("Optional", False))
    if item.response_kind == scoring.SCALE and not item.scored:
        tags.append(("Not scored", False))
    if item.reverse_keyed:
        tags.append(("Scored in reverse", False))
    if item.is_core:
        tags.append(("Core alliance question", False))
    if item.flag == scoring.SAFETY:
        tags.append(("Safety question", True))
    if item.flag == scoring.RUPTURE:
        tags.append(("A “yes” is flagged to the clinician", True))
    if item.subscale in subscales:
        tags.append((f"Part: {subscales[item.subscale]}", False))
    return tags


def _scoring_text(version, counted: int) -> str:
    """The scoring rule in plain words, with the range of the score."""
    lo, hi = version.scale_min, version.scale_max
    questions = f"{counted} scored question{'s' if counted != 1 else ''}"
    if version.scoring_rule == scoring.SUM:
        return (
            f"The score is the total of the answers to the {questions}: "
            f"{lo * counted} to {hi * counted}."
        )
    if version.scoring_rule == scoring.MEAN:
        return f"The score is the average of the answers to the {questions}: {lo} to {hi}."
    return (
        f"The score is the average of the answers to the {questions}, shown as an index "
        "from 0 to 10."
    )


@_require_admin
@require_POST
def instrument_toggle(request, instrument_id):
    instrument = access_instrument(request.membership, instrument_id)
    wanted = request.POST.get("enabled")
    if wanted not in ("1", "0"):
        messages.error(request, "Nothing changed: choose to turn the instrument on or off.")
    else:
        services.set_instrument_enabled(
            practice=request.practice,
            actor=request.membership,
            instrument=instrument,
            enabled=wanted == "1",
        )
        state = "on: staff can use it" if instrument.is_enabled else "off: it won't be sent"
        messages.success(request, f"{instrument.name} is {state}.")
    if request.POST.get("return_to") == "detail":
        return redirect(
            "feedback:instrument", practice_slug=request.practice.slug, instrument_id=instrument.pk
        )
    return redirect("feedback:instruments", practice_slug=request.practice.slug)


@_require_admin
@require_http_methods(["GET", "POST"])
def instrument_new(request):
    form = CustomInstrumentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            instrument = services.create_custom_instrument(
                practice=request.practice, actor=request.membership, **form.service_kwargs()
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"{instrument.name} is ready to use.")
            return redirect(
                "feedback:instrument",
                practice_slug=request.practice.slug,
                instrument_id=instrument.pk,
            )
    return render(request, "feedback/instrument_form.html", {"form": form, "instrument": None})


@_require_admin
@require_http_methods(["GET", "POST"])
def instrument_edit(request, instrument_id):
    instrument = access_instrument(request.membership, instrument_id)
    if instrument.is_standard:
        raise Http404  # shipped instruments keep their published wording
    versions = selectors.versions_of(instrument)
    current = versions[0]
    answered = any(v.response_count for v in versions)
    if request.method == "POST":
        form = CustomInstrumentForm(request.POST)
    else:
        items = selectors.version_items(current)
        initial = CustomInstrumentForm.initial_for(instrument, current, items)
        form = CustomInstrumentForm(initial=initial)
    if answered:
        form.fields["kind"].disabled = True
        form.fields["kind"].help_text = "It already has answers, so this can't change."
        form.fields["kind"].initial = instrument.kind
    if request.method == "POST" and form.is_valid():
        try:
            version = services.revise_custom_instrument(
                practice=request.practice,
                actor=request.membership,
                instrument=instrument,
                **form.service_kwargs(),
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            if version.number != current.number:
                messages.success(
                    request,
                    f"Saved as version {version.number}. Answers already given stay with "
                    f"version {current.number}.",
                )
            else:
                messages.success(request, f"{instrument.name} is saved.")
            return redirect(
                "feedback:instrument",
                practice_slug=request.practice.slug,
                instrument_id=instrument.pk,
            )
    return render(
        request,
        "feedback/instrument_form.html",
        {
            "form": form,
            "instrument": instrument,
            "current": current,
            "current_is_locked": current.response_count > 0,
        },
    )
