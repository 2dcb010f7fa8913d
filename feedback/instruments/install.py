"""Writing definitions into a practice's tables.

The functions take the model classes as arguments so that the data migration can run them with
its historical models and the services with the real ones; they only use model fields and the
plain base manager. If a later schema change breaks the migration's use of them, freeze a copy
into that migration.
"""

from django.db.models import Max

from feedback.instruments import STANDARD_INSTRUMENTS, validate_version_definition

VERSION_FIELDS = (
    "instructions",
    "scale_min",
    "scale_max",
    "anchors",
    "scoring_rule",
    "higher_is_better",
    "bands",
    "reliable_change_points",
    "reliable_change_sd",
    "reliable_change_reliability",
    "subscales",
)
ITEM_FIELDS = (
    "key",
    "text",
    "response_kind",
    "required",
    "scored",
    "reverse_keyed",
    "subscale",
    "is_core",
    "flag",
    "options",
)


def version_values(definition: dict) -> dict:
    """Field values of an InstrumentVersion from a normalized version definition."""
    return {name: definition[name] for name in VERSION_FIELDS}


def item_rows(ItemModel, *, practice_id: int, version, definition: dict) -> list:
    return [
        ItemModel(
            practice_id=practice_id,
            version=version,
            position=position,
            **{name: item[name] for name in ITEM_FIELDS},
        )
        for position, item in enumerate(definition["items"], start=1)
    ]


def create_version(
    *, VersionModel, ItemModel, practice_id: int, instrument, definition: dict,
    created_by=None, standard_revision=None,
):
    """A new version (number = highest so far + 1) with its items; `definition` normalized."""
    top = VersionModel._base_manager.filter(
        practice_id=practice_id, instrument=instrument
    ).aggregate(top=Max("number"))["top"]
    version = VersionModel._base_manager.create(
        practice_id=practice_id,
        instrument=instrument,
        number=(top or 0) + 1,
        standard_revision=standard_revision,
        created_by=created_by,
        **version_values(definition),
    )
    ItemModel._base_manager.bulk_create(
        item_rows(ItemModel, practice_id=practice_id, version=version, definition=definition)
    )
    return version


def install_definitions(
    practice_id: int, *, InstrumentModel, VersionModel, ItemModel,
    definitions=STANDARD_INSTRUMENTS,
) -> list:
    """Create the shipped instruments for one practice, or bring them up to date. Idempotent.

    A definition whose revision the practice already has is left alone; a new revision becomes
    a new version (earlier answers keep theirs). Whether an instrument is switched on is the
    practice's choice: it is only set when the instrument is first created.
    """
    installed = []
    for definition in definitions:
        version = validate_version_definition(definition["version"])
        instruments = InstrumentModel._base_manager.filter(practice_id=practice_id)
        instrument = instruments.filter(key=definition["key"]).first()
        texts = {
            "name": definition["name"],
            "kind": definition["kind"],
            "description": definition["description"],
            "licence_note": definition["licence_note"],
        }
        if instrument is None:
            instrument = InstrumentModel._base_manager.create(
                practice_id=practice_id,
                key=definition["key"],
                source="standard",
                is_enabled=definition["enabled_by_default"],
                **texts,
            )
        elif instrument.source != "standard":
            continue  # not ours to change (custom keys never look like standard ones anyway)
        elif any(getattr(instrument, k) != v for k, v in texts.items()):
            for name, value in texts.items():
                setattr(instrument, name, value)
            instrument.save(update_fields=list(texts))
        has_revision = VersionModel._base_manager.filter(
            practice_id=practice_id, instrument=instrument, standard_revision=definition["revision"]
        ).exists()
        if not has_revision:
            create_version(
                VersionModel=VersionModel,
                ItemModel=ItemModel,
                practice_id=practice_id,
                instrument=instrument,
                definition=version,
                standard_revision=definition["revision"],
            )
        installed.append(instrument)
    return installed
