"""Reads shared by feedback views (and, later, reports). Constant query counts per page."""

from django.db.models import Count

from feedback.models import Instrument, InstrumentItem, InstrumentVersion


def instruments_overview() -> list[Instrument]:
    """Every instrument of the practice, standard ones first, each with `current` (its latest
    version, with `item_count`) and `response_count` (all versions). Two queries."""
    instruments = list(
        Instrument.objects.annotate(
            response_count=Count("versions__responses", distinct=True)
        ).order_by("-source", "kind", "name", "id")  # shipped first (reversed), alliance first
    )
    versions = (
        InstrumentVersion.objects.filter(instrument__in=[i.pk for i in instruments])
        .annotate(item_count=Count("items"))
        .order_by("instrument_id", "number")
    )
    latest = {v.instrument_id: v for v in versions}  # the last one per instrument wins
    for instrument in instruments:
        instrument.current = latest.get(instrument.pk)
    return instruments


def versions_of(instrument: Instrument) -> list[InstrumentVersion]:
    """Newest first, each with `response_count`."""
    return list(
        InstrumentVersion.objects.filter(instrument=instrument)
        .annotate(response_count=Count("responses"))
        .order_by("-number")
    )


def version_items(version: InstrumentVersion) -> list[InstrumentItem]:
    return list(InstrumentItem.objects.filter(version=version).order_by("position"))

