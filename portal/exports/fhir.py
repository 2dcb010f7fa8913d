"""A practice's instruments and check-ins as a FHIR R4 (R4B-compatible) Bundle of type
"collection": one Questionnaire per instrument version, one QuestionnaireResponse per check-in.

Canonical URLs are stable across exports and deployments of the same practice:

    Questionnaire.url      {FHIR_CANONICAL_BASE}/Questionnaire/{practice-slug}/{instrument-key}
    Questionnaire.version  the version number ("1", "2", ...)
    QuestionnaireResponse.questionnaire   "{url}|{version}"

The practice slug is part of the URL because instrument keys are only unique within a practice
(two practices may each enter a different "my-scale"). Item linkIds are the item keys.

Item types: a scale item is a "choice" with one answerOption per allowed value (a Coding whose
code is the number, display the anchor label, plus the standard ordinalValue extension);
yes/no is "boolean"; a written answer is "text". Scores go on each response as extensions
(the score the version's rule reports, and its band).

Resources are produced one at a time (`entries`) so that a large practice can be written to a
file without holding every response in memory (`write_bundle`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone

from care.models import Client
from feedback import scoring
from feedback.models import Answer, CheckinResponse, InstrumentItem, InstrumentVersion
from portal.tenancy.models import Practice

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
RESPONSE_CHUNK = 500

# FHIR `id`: [A-Za-z0-9\-\.]{1,64}; ours are a prefix and a primary key.
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def base_url() -> str:
    return getattr(settings, "FHIR_CANONICAL_BASE", "https://rapport.example/fhir").rstrip("/")


def questionnaire_url(practice: Practice, instrument_key: str) -> str:
    return f"{base_url()}/Questionnaire/{practice.slug}/{instrument_key}"


def extension_url(name: str) -> str:
    return f"{base_url()}/StructureDefinition/{name}"


def client_identifier_system(practice: Practice) -> str:
    return f"{base_url()}/client/{practice.slug}"


def _full_url(practice: Practice, kind: str, pk: int) -> str:
    # Deterministic, so the same row has the same fullUrl in every export.
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url()}/{practice.slug}/{kind}/{pk}"))


def _instant(value) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


# --- Questionnaire --------------------------------------------------------------------------


def _answer_system(url: str, version: InstrumentVersion, item: InstrumentItem) -> str:
    # One code system per item: items may carry their own option labels (PHQ-9 "difficulty").
    return f"{url}/v{version.number}/{item.key}"


def _options(version: InstrumentVersion, item: InstrumentItem) -> list[tuple[int, str]]:
    if item.options:
        return sorted((int(o["value"]), o["label"]) for o in item.options)
    labels = version.anchor_labels
    return [(v, labels.get(v, str(v))) for v in range(version.scale_min, version.scale_max + 1)]


def _coding(system: str, value: int, label: str) -> dict:
    return {"system": system, "code": str(value), "display": label}


def questionnaire(practice: Practice, version: InstrumentVersion) -> dict:
    instrument = version.instrument
    url = questionnaire_url(practice, instrument.key)
    items = []
    if version.instructions:
        items.append({"linkId": "rapport-instructions", "type": "display", "text": version.instructions})
    for item in version.items.all():
        entry = {"linkId": item.key, "text": item.text, "required": item.required}
        if item.response_kind == scoring.SCALE:
            system = _answer_system(url, version, item)
            entry["type"] = "choice"
            entry["answerOption"] = [
                {
                    "extension": [{"url": ORDINAL_VALUE, "valueDecimal": value}],
                    "valueCoding": _coding(system, value, label),
                }
                for value, label in _options(version, item)
            ]
        elif item.response_kind == scoring.YES_NO:
            entry["type"] = "boolean"
        else:
            entry["type"] = "text"
        items.append(entry)
    resource = {
        "resourceType": "Questionnaire",
        "id": f"q{version.pk}",
        "url": url,
        "version": str(version.number),
        "name": re.sub(r"[^A-Za-z0-9]", "", instrument.name.title())[:60] or f"Instrument{instrument.pk}",
        "title": instrument.name,
        "status": "active" if instrument.is_enabled else "retired",
        "date": _instant(version.created_at),
        "publisher": practice.name,
        "item": items,
    }
    if instrument.description:
        resource["description"] = instrument.description
    if instrument.licence_note:
        resource["copyright"] = instrument.licence_note
    return resource


# --- QuestionnaireResponse -------------------------------------------------------------------


def _answer_value(version: InstrumentVersion, item: InstrumentItem, answer: Answer, url: str) -> dict | None:
    if item.response_kind == scoring.SCALE:
        if answer.value is None:
            return None
        labels = dict(_options(version, item))
        system = _answer_system(url, version, item)
        return {"valueCoding": _coding(system, answer.value, labels.get(answer.value, str(answer.value)))}
    if item.response_kind == scoring.YES_NO:
        return None if answer.value is None else {"valueBoolean": bool(answer.value)}
    return {"valueString": answer.text} if answer.text else None


def questionnaire_response(practice: Practice, response: CheckinResponse) -> dict:
    version = response.instrument_version
    url = questionnaire_url(practice, version.instrument.key)
    items = []
    for answer in response.answers.all():  # prefetched, in item position order
        value = _answer_value(version, answer.item, answer, url)
        if value is not None:
            items.append({"linkId": answer.item.key, "text": answer.item.text, "answer": [value]})
    client = response.client
    resource = {
        "resourceType": "QuestionnaireResponse",
        "id": f"r{response.pk}",
        "questionnaire": f"{url}|{version.number}",
        "status": "entered-in-error" if response.is_entered_in_error else "completed",
        "subject": {
            "identifier": {"system": client_identifier_system(practice), "value": str(client.pk)},
            "display": client.full_name,
        },
        "authored": _instant(response.submitted_at),
        "item": items,
    }
    extensions = []
    if response.score is not None:
        extensions.append({"url": extension_url("score"), "valueDecimal": round(response.score, 4)})
    if response.band_label:
        extensions.append({"url": extension_url("band"), "valueString": response.band_label})
    extensions.append({"url": extension_url("channel"), "valueCode": response.channel})
    resource["extension"] = extensions
    return resource


# --- The bundle ------------------------------------------------------------------------------


def _versions():
    items = Prefetch("items", queryset=InstrumentItem.objects.order_by("position"))
    return (
        InstrumentVersion.objects.select_related("instrument")
        .prefetch_related(items)
        .order_by("instrument__key", "number")
    )


def _responses():
    answers = Prefetch("answers", queryset=Answer.objects.select_related("item").order_by("item__position"))
    return (
        CheckinResponse.objects.select_related("instrument_version__instrument", "client")
        .prefetch_related(answers)
        .order_by("submitted_at", "id")
    )


def count_resources() -> int:
    return InstrumentVersion.objects.count() + CheckinResponse.objects.count()


def entries(practice: Practice, progress: Callable[[int], None] | None = None) -> Iterator[dict]:
    """Bundle entries, Questionnaires first. Runs inside the practice's scope; calls
    `progress(done)` now and then with the number of resources produced so far."""
    done = 0
    for version in _versions():
        yield {"fullUrl": _full_url(practice, "Questionnaire", version.pk), "resource": questionnaire(practice, version)}
        done += 1
    if progress:
        progress(done)
    # Versions are shared by many responses: reuse the loaded ones (and their items).
    for response in _responses().iterator(chunk_size=RESPONSE_CHUNK):
        yield {
            "fullUrl": _full_url(practice, "QuestionnaireResponse", response.pk),
            "resource": questionnaire_response(practice, response),
        }
        done += 1
        if progress and done % RESPONSE_CHUNK == 0:
            progress(done)
    if progress:
        progress(done)


def _bundle_head(practice: Practice) -> dict:
    return {
        "resourceType": "Bundle",
        "id": f"rapport-{practice.slug}-{timezone.now():%Y%m%d%H%M%S}",
        "meta": {"lastUpdated": _instant(timezone.now())},
        "type": "collection",
        "timestamp": _instant(timezone.now()),
    }


def build_bundle(practice: Practice) -> dict:
    """The whole Bundle as a dict (tests, small practices)."""
    return {**_bundle_head(practice), "entry": list(entries(practice))}


def write_bundle(practice: Practice, out, progress: Callable[[int], None] | None = None) -> int:
    """Stream the Bundle as JSON to the text file `out`; returns the number of entries."""
    head = json.dumps(_bundle_head(practice), ensure_ascii=False)
    out.write(head[:-1] + ', "entry": [')
    count = 0
    for entry in entries(practice, progress):
        out.write(("," if count else "") + "\n" + json.dumps(entry, ensure_ascii=False))
        count += 1
    out.write("\n]}\n")
    return count
