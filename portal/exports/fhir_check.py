"""Our own check of an exported Bundle, beyond what the FHIR models validate: every
QuestionnaireResponse points at a Questionnaire of the Bundle, and every answer fits its item
(the linkId exists, the value type matches the item type, a coded answer is one of the item's
answerOptions, required items of a completed response are answered, no item twice)."""

from __future__ import annotations

VALUE_KEY = {"choice": "valueCoding", "boolean": "valueBoolean", "text": "valueString",
             "string": "valueString", "integer": "valueInteger", "decimal": "valueDecimal"}


def _questionnaires(bundle: dict) -> dict[str, dict]:
    found = {}
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if resource["resourceType"] == "Questionnaire":
            found[f"{resource['url']}|{resource['version']}"] = resource
    return found


def _option_codes(item: dict) -> set[tuple[str | None, str]]:
    return {
        (o["valueCoding"].get("system"), o["valueCoding"]["code"])
        for o in item.get("answerOption", [])
        if "valueCoding" in o
    }


def answer_mismatches(bundle: dict) -> list[str]:
    """Human-readable problems, one per mismatch; an empty list when everything fits."""
    problems = []
    questionnaires = _questionnaires(bundle)
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if resource["resourceType"] != "QuestionnaireResponse":
            continue
        where = f"QuestionnaireResponse/{resource.get('id')}"
        q = questionnaires.get(resource.get("questionnaire", ""))
        if q is None:
            problems.append(f"{where}: questionnaire {resource.get('questionnaire')!r} is not in the bundle")
            continue
        items = {i["linkId"]: i for i in q.get("item", [])}
        seen = set()
        for answered in resource.get("item", []):
            link = answered.get("linkId")
            item = items.get(link)
            if item is None:
                problems.append(f"{where}: linkId {link!r} is not an item of {q['id']}")
                continue
            if link in seen:
                problems.append(f"{where}: linkId {link!r} answered twice")
            seen.add(link)
            if item["type"] == "display":
                problems.append(f"{where}: {link!r} is a display item and takes no answer")
                continue
            expected = VALUE_KEY.get(item["type"])
            answers = answered.get("answer", [])
            if len(answers) != 1:
                problems.append(f"{where}: {link!r} has {len(answers)} answers, expected 1")
            for answer in answers:
                kinds = [k for k in answer if k.startswith("value")]
                if kinds != [expected]:
                    problems.append(f"{where}: {link!r} answered with {kinds}, item type {item['type']} needs {expected}")
                    continue
                if expected == "valueCoding":
                    coding = answer["valueCoding"]
                    if (coding.get("system"), coding.get("code")) not in _option_codes(item):
                        problems.append(f"{where}: {link!r} answer {coding.get('code')!r} is not one of the item's options")
        if resource.get("status") == "completed":
            for link, item in items.items():
                if item.get("required") and link not in seen:
                    problems.append(f"{where}: required item {link!r} is not answered")
    return problems
