"""The FHIR export: parsed by the fhir.resources R4B models, and every answer fits its item."""

import copy
import io
import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from feedback.models import CheckinResponse, InstrumentVersion
from portal.exports import fhir
from portal.exports.fhir_check import answer_mismatches
from portal.exports.tests.support import populate


@pytest.fixture
def exported(world_a, world_b):
    parts = populate(world_a)
    populate(world_b, marker="Bbmarker")
    with world_a.scope():
        bundle = fhir.build_bundle(world_a.practice)
    return parts, bundle


def _resources(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_bundle_parses_with_the_r4b_models_and_every_answer_fits(exported, world_a):
    parts, bundle = exported
    parsed = Bundle.model_validate(bundle)
    kinds = [type(e.resource) for e in parsed.entry]
    with world_a.scope():
        versions = InstrumentVersion.objects.count()
        responses = CheckinResponse.objects.count()
    assert kinds.count(Questionnaire) == versions >= 3
    assert kinds.count(QuestionnaireResponse) == responses == 3
    assert answer_mismatches(bundle) == []


def test_canonical_urls_link_each_response_to_its_questionnaire(exported, world_a):
    parts, bundle = exported
    slug = world_a.practice.slug
    questionnaires = {f"{q['url']}|{q['version']}": q for q in _resources(bundle, "Questionnaire")}
    assert f"https://rapport.example/fhir/Questionnaire/{slug}/phq9|1" in questionnaires
    by_id = {r["id"]: r for r in _resources(bundle, "QuestionnaireResponse")}
    checkin = by_id[f"r{parts.checkin.pk}"]
    assert checkin["questionnaire"] == f"https://rapport.example/fhir/Questionnaire/{slug}/session-checkin|1"
    assert checkin["status"] == "completed"
    assert by_id[f"r{parts.mistake.pk}"]["status"] == "entered-in-error"
    answers = {i["linkId"]: i["answer"][0] for i in checkin["item"]}
    assert answers["heard"]["valueCoding"]["code"] == "9"
    assert answers["rupture"] == {"valueBoolean": True}
    assert answers["rupture-detail"] == {"valueString": "Qqmarker moment"}
    # The score goes with the response; PHQ-9's own-option item keeps its own labels.
    score = next(e for e in checkin["extension"] if e["url"].endswith("/score"))
    assert score["valueDecimal"] == pytest.approx(parts.checkin.index, abs=1e-4)
    phq9 = by_id[f"r{parts.phq9.pk}"]
    difficulty = next(i for i in phq9["item"] if i["linkId"] == "difficulty")
    assert difficulty["answer"][0]["valueCoding"]["display"] == "Very difficult"
    # Nothing of practice B.
    assert "Bbmarker" not in json.dumps(bundle)


def test_our_check_catches_answers_that_do_not_fit(exported):
    _, bundle = exported
    broken = copy.deepcopy(bundle)
    response = _resources(broken, "QuestionnaireResponse")[0]
    response["item"][0]["answer"] = [{"valueCoding": {**response["item"][0]["answer"][0]["valueCoding"], "code": "11"}}]
    response["item"][1]["linkId"] = "no-such-item"
    response["item"][2]["answer"] = [{"valueBoolean": True}]
    problems = answer_mismatches(broken)
    assert any("'11' is not one of the item's options" in p for p in problems)
    assert any("'no-such-item' is not an item" in p for p in problems)
    assert any("needs valueCoding" in p for p in problems)
    assert any("required item" in p for p in problems)  # the renamed one is now missing
    response["questionnaire"] = "https://elsewhere.example/Questionnaire/x|1"
    assert any("is not in the bundle" in p for p in answer_mismatches(broken))


def test_the_r4b_models_reject_a_malformed_bundle(exported):
    _, bundle = exported
    broken = copy.deepcopy(bundle)
    _resources(broken, "QuestionnaireResponse")[0]["item"][0]["answer"] = "nine"
    with pytest.raises(ValueError):
        Bundle.model_validate(broken)


def test_the_streamed_file_is_the_same_bundle(exported, world_a):
    _, bundle = exported
    out = io.StringIO()
    with world_a.scope():
        count = fhir.write_bundle(world_a.practice, out)
    streamed = json.loads(out.getvalue())
    assert count == len(bundle["entry"]) == len(streamed["entry"])
    assert [e["resource"] for e in streamed["entry"]] == [e["resource"] for e in bundle["entry"]]
    Bundle.model_validate(streamed)


def test_building_the_bundle_takes_a_fixed_number_of_queries(world_a, django_assert_max_num_queries):
    populate(world_a)
    with world_a.scope():
        with django_assert_max_num_queries(12):
            small = fhir.build_bundle(world_a.practice)
        populate(world_a, client=world_a.other_client)
        populate(world_a, client=world_a.shared_client)
        with django_assert_max_num_queries(12):
            large = fhir.build_bundle(world_a.practice)
    assert len(large["entry"]) > len(small["entry"])
