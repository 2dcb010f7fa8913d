"""The instrument pages: practice admins only; everyone else gets the same 404."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback import services
from feedback.models import CheckinResponse, Instrument, InstrumentItem, InstrumentVersion
from feedback.testing import InstrumentFactory


@pytest.fixture
def installed(world_a, world_b):
    services.install_standard_instruments(world_a.practice)
    services.install_standard_instruments(world_b.practice)
    return {i.key: i for i in Instrument.unscoped.filter(practice=world_a.practice)}


def url(world, suffix=""):
    return world.url(f"instruments/{suffix}")


def snapshot():
    return [
        list(model.unscoped.order_by("pk").values_list())
        for model in (Instrument, InstrumentVersion, InstrumentItem, CheckinResponse)
    ]


FORM = {
    "name": "Our licensed scale",
    "kind": "alliance",
    "description": "Six questions about how the session went.",
    "licence_note": "Licence 42-A, held by the practice until 2027.",
    "instructions": "How true is each sentence?",
    "scale_min": "1",
    "scale_max": "5",
    "min_label": "Not at all",
    "max_label": "Very much",
    "items": "We agreed on the goals\n\n(R) I felt rushed\nI trusted my clinician\n",
    "scoring_rule": "mean",
    "higher_is_better": "true",
    "bands": "1-2.9 Needs a conversation\n3 - 5 Fine",
    "reliable_change_points": "0.8",
}


# --- Admins ----------------------------------------------------------------------------------


def test_list_shows_the_practices_instruments_only(world_a, world_b, installed, as_member):
    InstrumentFactory(practice=world_b.practice, name="Bravo's secret scale")
    page = as_member(world_a.admin).get(url(world_a))
    assert page.status_code == 200
    body = page.content.decode()
    for name in ("Session check-in", "PHQ-9", "GAD-7"):
        assert name in body
    assert "Bravo&#x27;s secret scale" not in body and "Bravo's secret scale" not in body
    assert body.count("Turn on<span") == 2  # PHQ-9 and GAD-7 start off
    assert body.count("Turn off<span") == 1


def test_list_runs_the_same_queries_for_3_or_13_instruments(world_a, installed, as_member):
    client = as_member(world_a.admin)
    client.get(url(world_a))  # warm up (session, sites)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(world_a)).status_code == 200
    for _ in range(10):
        InstrumentFactory(practice=world_a.practice, items=4)
    with CaptureQueriesContext(connection) as many:
        page = client.get(url(world_a))
    assert page.content.decode().count('class="instrument-name"') == 13
    assert len(many) == len(few)


def test_admin_toggles_an_instrument(world_a, installed, as_member):
    client = as_member(world_a.admin)
    phq9 = installed["phq9"]
    page = client.post(url(world_a, f"{phq9.pk}/enabled/"), {"enabled": "1"})
    assert page.status_code == 302 and page["Location"] == url(world_a)
    assert Instrument.unscoped.get(pk=phq9.pk).is_enabled is True
    page = client.post(url(world_a, f"{phq9.pk}/enabled/"),
                       {"enabled": "0", "return_to": "detail"})
    assert page["Location"] == url(world_a, f"{phq9.pk}/")
    assert Instrument.unscoped.get(pk=phq9.pk).is_enabled is False
    client.post(url(world_a, f"{phq9.pk}/enabled/"), {})  # says nothing: changes nothing
    assert Instrument.unscoped.get(pk=phq9.pk).is_enabled is False
    assert client.get(url(world_a, f"{phq9.pk}/enabled/")).status_code == 405


def test_detail_shows_items_scale_bands_and_licence(world_a, installed, as_member):
    page = as_member(world_a.admin).get(url(world_a, f"{installed['phq9'].pk}/"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "Thoughts that you would be better off dead or of hurting yourself in some way" in body
    assert "Over the last 2 weeks, how often have you been bothered by any of the following" in body
    assert "More than half the days" in body
    assert "Moderately severe" in body and "20–27" in body
    assert "No permission required to reproduce" in body
    assert "Question 9 is a safety question" in body and "Any answer above 0 alerts" in body
    assert "An answer of 0 does not rule out risk" in body
    assert "A change of 6 points or more" in body
    assert "total of the answers to the 9 scored questions: 0 to 27" in body
    assert "/edit/" not in body  # the published wording is not editable


def test_checkin_detail_explains_the_index(world_a, installed, as_member):
    body = as_member(world_a.admin).get(
        url(world_a, f"{installed['session-checkin'].pk}/")
    ).content.decode()
    assert "I was helpfully challenged." in body
    assert "shown as an index from 0 to 10" in body
    assert "Core alliance question" in body
    assert "Was there a moment today that didn&#x27;t feel right between us?" in body


def test_admin_creates_a_custom_instrument(world_a, as_member):
    page = as_member(world_a.admin).post(url(world_a, "new/"), FORM)
    assert page.status_code == 302, page.content.decode()[:3000]
    with world_a.scope():
        instrument = Instrument.objects.get(name="Our licensed scale")
        assert page["Location"] == url(world_a, f"{instrument.pk}/")
        assert (instrument.kind, instrument.source) == ("alliance", "custom")
        assert instrument.licence_note == "Licence 42-A, held by the practice until 2027."
        version = instrument.versions.get()
        assert (version.scale_min, version.scale_max, version.scoring_rule) == (1, 5, "mean")
        assert version.anchors == [{"value": 1, "label": "Not at all"},
                                   {"value": 5, "label": "Very much"}]
        assert version.bands == [
            {"min": 1, "max": 2.9, "label": "Needs a conversation", "severity": None},
            {"min": 3, "max": 5, "label": "Fine", "severity": None},
        ]
        assert version.reliable_change_points == 0.8
        items = list(version.items.order_by("position").values_list("text", "reverse_keyed"))
        assert items == [("We agreed on the goals", False), ("I felt rushed", True),
                         ("I trusted my clinician", False)]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"items": "  \n "}, "This field is required."),
        ({"scale_min": "5", "scale_max": "2"}, "The highest answer must be above the lowest."),
        ({"bands": "low to high"}, "should look like"),
        ({"bands": "0-5 Low\n4-9 High"}, "overlaps the range before it"),
        ({"scale_max": "11"}, "Ensure this value is less than or equal to 10."),
        ({"name": ""}, "This field is required."),
    ],
)
def test_create_with_problems_explains_and_creates_nothing(world_a, as_member, change, message):
    before = snapshot()
    page = as_member(world_a.admin).post(url(world_a, "new/"), {**FORM, **change})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Please fix the problems marked below." in body
    assert message in body
    assert snapshot() == before


def test_hostile_text_is_escaped(world_a, as_member):
    hostile = "<script>alert(1)</script>"
    as_member(world_a.admin).post(url(world_a, "new/"), {**FORM, "name": hostile,
                                                         "items": hostile})
    instrument = Instrument.unscoped.get(practice=world_a.practice, name=hostile)
    body = as_member(world_a.admin).get(url(world_a, f"{instrument.pk}/")).content.decode()
    assert hostile not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_editing_an_answered_custom_instrument_makes_version_2(world_a, as_member):
    client = as_member(world_a.admin)
    client.post(url(world_a, "new/"), FORM)
    with world_a.scope():
        instrument = Instrument.objects.get(name="Our licensed scale")
        v1 = instrument.versions.get()
        response = services.submit_response(
            practice=world_a.practice, client=world_a.client, version=v1,
            answers={"q1": 4, "q2": 2, "q3": 5}, channel="portal",
        )
    form_page = client.get(url(world_a, f"{instrument.pk}/edit/")).content.decode()
    assert "saving makes version 2" in form_page
    assert "(R) I felt rushed" in form_page  # the current questions, ready to edit
    page = client.post(url(world_a, f"{instrument.pk}/edit/"),
                       {**FORM, "items": FORM["items"] + "\nA new fourth question"})
    assert page.status_code == 302
    with world_a.scope():
        versions = list(instrument.versions.order_by("number"))
        assert [v.number for v in versions] == [1, 2]
        assert versions[0].items.count() == 3 and versions[1].items.count() == 4
        response.refresh_from_db()
        assert response.instrument_version_id == v1.pk
    detail = client.get(url(world_a, f"{instrument.pk}/")).content.decode()
    assert "A new fourth question" in detail
    earlier = client.get(url(world_a, f"{instrument.pk}/?version=1")).content.decode()
    assert "A new fourth question" not in earlier and "an earlier version" in earlier


def test_standard_instruments_have_no_edit_page(world_a, installed, as_member):
    client = as_member(world_a.admin)
    before = snapshot()
    for key in ("phq9", "gad7", "session-checkin"):
        edit = url(world_a, f"{installed[key].pk}/edit/")
        assert client.get(edit).status_code == 404
        assert client.post(edit, FORM).status_code == 404
    assert snapshot() == before


# --- Everyone else ---------------------------------------------------------------------------


def all_urls(world, instrument):
    return [
        url(world),
        url(world, "new/"),
        url(world, f"{instrument.pk}/"),
        url(world, f"{instrument.pk}/edit/"),
        url(world, f"{instrument.pk}/enabled/"),
    ]


@pytest.mark.parametrize("who", ["clinician", "client"])
def test_clinicians_and_clients_get_404(world_a, as_member, who):
    member = world_a.clinician if who == "clinician" else world_a.client.membership
    instrument = InstrumentFactory(practice=world_a.practice, is_enabled=False)
    client = as_member(member)
    before = snapshot()
    for path in all_urls(world_a, instrument):
        assert client.get(path).status_code == 404, path
        assert client.post(path, {**FORM, "enabled": "1"}).status_code == 404, path
    assert snapshot() == before


def test_another_practices_instrument_is_404(world_a, world_b, as_member):
    theirs = InstrumentFactory(practice=world_b.practice, is_enabled=False)
    client = as_member(world_a.admin)
    before = snapshot()
    detail, edit, toggle = all_urls(world_a, theirs)[2:]
    for path in (detail, edit):
        assert client.get(path).status_code == 404, path
    for path in (detail, edit, toggle):
        assert client.post(path, {**FORM, "enabled": "1"}).status_code == 404, path
    assert client.get(toggle).status_code == 405  # POST only, for any id
    assert client.get(url(world_a, "999999/")).status_code == 404
    assert snapshot() == before


def test_the_menu_shows_instruments_to_admins_only(world_a, as_member):
    link = f'href="{url(world_a)}"'
    assert link in as_member(world_a.admin).get(world_a.url()).content.decode()
    assert link not in as_member(world_a.clinician).get(world_a.url()).content.decode()
