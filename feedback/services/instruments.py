"""Writes for instruments and their versions. Views and tasks stay thin and call these.

Every function is keyword-only and takes the practice; all but the installer expect that
practice's scope to be entered already (the middleware and the Celery tasks do it).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from accounts.models import Membership
from feedback.instruments import validate_version_definition
from feedback.instruments.install import (
    ITEM_FIELDS,
    create_version,
    install_definitions,
    item_rows,
    version_values,
)
from feedback.models import CheckinResponse, Instrument, InstrumentItem, InstrumentVersion
from portal.tenancy.context import practice_scope
from portal.tenancy.models import Practice

CUSTOM_KEY_PREFIX = "custom-"  # shipped keys never start with it, so the two never collide


# --- Shipped instruments ----------------------------------------------------------------------


def install_standard_instruments(practice: Practice) -> list[Instrument]:
    """Give `practice` the shipped instruments (session check-in, PHQ-9, GAD-7), or bring them
    up to the shipped revision. Idempotent; safe inside or outside the practice's scope.

    Call it when a practice is created (accounts.services.create_practice) and from seeds.
    """
    with transaction.atomic(), practice_scope(practice):
        # One installer per practice at a time, so two concurrent calls cannot both create.
        Practice.objects.select_for_update().filter(pk=practice.pk).first()
        return install_definitions(
            practice.pk,
            InstrumentModel=Instrument,
            VersionModel=InstrumentVersion,
            ItemModel=InstrumentItem,
        )


# --- Instruments --------------------------------------------------------------------------------


def set_instrument_enabled(
    *, practice: Practice, actor: Membership, instrument: Instrument, enabled: bool
) -> Instrument:
    Instrument.objects.filter(pk=instrument.pk).update(is_enabled=enabled)
    instrument.is_enabled = enabled
    return instrument


def current_version(instrument: Instrument) -> InstrumentVersion | None:
    return InstrumentVersion.objects.filter(instrument=instrument).order_by("-number").first()


def _clean_texts(*, name: str, kind: str) -> dict:
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "Give the instrument a name."
    elif len(name) > 200:
        errors["name"] = "Keep the name under 200 characters."
    if kind not in Instrument.Kind.values:
        errors["kind"] = "Choose what the instrument measures."
    if errors:
        raise ValidationError(errors)
    return {"name": name, "kind": kind}


def _custom_key(name: str) -> str:
    base = CUSTOM_KEY_PREFIX + (slugify(name)[:40].strip("-") or "instrument")
    taken = set(Instrument.objects.filter(key__startswith=base).values_list("key", flat=True))
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    return key


@transaction.atomic
def create_custom_instrument(
    *,
    practice: Practice,
    actor: Membership | None,
    name: str,
    kind: str,
    version: dict,
    description: str = "",
    licence_note: str = "",
) -> Instrument:
    """An instrument the practice writes itself (or holds a licence for), with version 1.

    `version` is the version part of a definition (see feedback.instruments).
    """
    texts = _clean_texts(name=name, kind=kind)
    definition = validate_version_definition(version)
    # Serialize instrument creation in the practice, so that two requests can't take one key.
    Practice.objects.select_for_update().filter(pk=practice.pk).first()
    instrument = Instrument.objects.create(
        practice=practice,
        key=_custom_key(texts["name"]),
        source=Instrument.Source.CUSTOM,
        is_enabled=True,
        description=description.strip(),
        licence_note=licence_note.strip(),
        created_by=actor,
        **texts,
    )
    _new_version(practice=practice, actor=actor, instrument=instrument, definition=definition)
    return instrument


def _new_version(*, practice, actor, instrument, definition) -> InstrumentVersion:
    return create_version(
        VersionModel=InstrumentVersion,
        ItemModel=InstrumentItem,
        practice_id=practice.pk,
        instrument=instrument,
        definition=definition,
        created_by=actor,
    )


def update_version(
    *, practice: Practice, actor: Membership | None, version: InstrumentVersion, definition: dict
) -> InstrumentVersion:
    """Rewrite a version that nobody has answered yet, in place.

    Raises ValidationError when the version has responses: it is immutable then, and the
    change must become a new version (revise_custom_instrument does that).
    """
    with transaction.atomic():
        # The lock orders this against submit_response, which locks the version too.
        version = InstrumentVersion.objects.select_for_update().get(pk=version.pk)
        version.check_editable()
        definition = validate_version_definition(definition)
        for name, value in version_values(definition).items():
            setattr(version, name, value)
        version.save()
        InstrumentItem.objects.filter(version=version).delete()
        InstrumentItem.objects.bulk_create(
            item_rows(InstrumentItem, practice_id=practice.pk, version=version,
                      definition=definition)
        )
    return version


def _same_definition(version: InstrumentVersion, definition: dict) -> bool:
    current = validate_version_definition(version.definition())
    items = lambda d: [{k: i[k] for k in ITEM_FIELDS} for i in d["items"]]  # noqa: E731
    return version_values(current) == version_values(definition) and items(current) == items(
        definition
    )


@transaction.atomic
def revise_custom_instrument(
    *,
    practice: Practice,
    actor: Membership | None,
    instrument: Instrument,
    name: str,
    kind: str,
    version: dict,
    description: str = "",
    licence_note: str = "",
) -> InstrumentVersion:
    """Save an edit of a practice's own instrument; the version that is current afterwards.

    Unanswered, the current version is rewritten in place. Answered, it is immutable: the
    change becomes a new version and the answers already given keep the old one. An edit that
    changes nothing in the questions or scoring creates no version.
    """
    instrument = Instrument.objects.select_for_update().get(pk=instrument.pk)
    if instrument.is_standard:
        raise ValidationError(
            "Instruments that come with Rapport keep their published wording and can't be edited."
        )
    texts = _clean_texts(name=name, kind=kind)
    definition = validate_version_definition(version)
    latest = InstrumentVersion.objects.select_for_update().filter(instrument=instrument)
    latest = latest.order_by("-number").first()
    answered = CheckinResponse.objects.filter(instrument_version__instrument=instrument).exists()
    if texts["kind"] != instrument.kind and answered:
        raise ValidationError(
            {"kind": "This instrument already has answers, so what it measures can't change."}
        )
    instrument.name, instrument.kind = texts["name"], texts["kind"]
    instrument.description, instrument.licence_note = description.strip(), licence_note.strip()
    instrument.save(update_fields=["name", "kind", "description", "licence_note"])
    if latest is not None and _same_definition(latest, definition):
        return latest
    if latest is None or latest.is_locked:
        return _new_version(practice=practice, actor=actor, instrument=instrument,
                            definition=definition)
    return update_version(practice=practice, actor=actor, version=latest, definition=definition)
