"""Shipped instruments in the database, custom instruments and version immutability."""

import copy
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from feedback import services
from feedback.instruments import STANDARD_INSTRUMENTS, standard_definition
from feedback.instruments.install import install_definitions
from feedback.models import Answer, CheckinResponse, Instrument, InstrumentItem, InstrumentVersion
from feedback.testing import PracticeWithInstrumentsFactory
from portal.tenancy.context import current_practice


def counts(practice):
    return (
        Instrument.unscoped.filter(practice=practice).count(),
        InstrumentVersion.unscoped.filter(practice=practice).count(),
        InstrumentItem.unscoped.filter(practice=practice).count(),
    )


EXPECTED_ITEMS = sum(len(d["version"]["items"]) for d in STANDARD_INSTRUMENTS)  # 11 + 10 + 8


# --- Installing the shipped instruments -------------------------------------------------------


def test_install_creates_the_three_instruments(world_a, world_b):
    installed = services.install_standard_instruments(world_a.practice)
    assert [i.key for i in installed] == ["session-checkin", "phq9", "gad7"]
    assert counts(world_a.practice) == (3, 3, EXPECTED_ITEMS)
    assert counts(world_b.practice) == (0, 0, 0)  # another practice is untouched
    assert current_practice() is None  # the installer left no scope behind
    rows = Instrument.unscoped.filter(practice=world_a.practice)
    assert {i.key: (i.source, i.is_enabled, i.kind) for i in rows} == {
        "session-checkin": ("standard", True, "alliance"),
        "phq9": ("standard", False, "outcome"),
        "gad7": ("standard", False, "outcome"),
    }


def test_install_is_idempotent_and_keeps_the_practices_choices(world_a):
    services.install_standard_instruments(world_a.practice)
    phq9 = Instrument.unscoped.get(practice=world_a.practice, key="phq9")
    phq9.is_enabled = True
    phq9.save()
    before = list(InstrumentItem.unscoped.filter(practice=world_a.practice).values_list("pk"))
    services.install_standard_instruments(world_a.practice)
    services.install_standard_instruments(world_a.practice)
    assert counts(world_a.practice) == (3, 3, EXPECTED_ITEMS)
    assert list(InstrumentItem.unscoped.filter(practice=world_a.practice).values_list("pk")) == (
        before
    )
    assert Instrument.unscoped.get(pk=phq9.pk).is_enabled is True


def test_install_works_inside_the_practices_scope_too(world_a):
    with world_a.scope():
        services.install_standard_instruments(world_a.practice)
        assert Instrument.objects.count() == 3


def test_a_new_shipped_revision_becomes_a_new_version(world_a):
    services.install_standard_instruments(world_a.practice)
    revised = copy.deepcopy(standard_definition("gad7"))
    revised["revision"] = 2
    revised["version"]["items"][0]["text"] = "Reworded for the test"
    install_definitions(
        world_a.practice.pk,
        InstrumentModel=Instrument,
        VersionModel=InstrumentVersion,
        ItemModel=InstrumentItem,
        definitions=[revised],
    )
    versions = InstrumentVersion.unscoped.filter(
        practice=world_a.practice, instrument__key="gad7"
    ).order_by("number")
    assert [(v.number, v.standard_revision) for v in versions] == [(1, 1), (2, 2)]
    first_items = InstrumentItem.unscoped.filter(version=versions[0]).order_by("position")
    assert first_items[0].text == "Feeling nervous, anxious or on edge"


def test_the_database_holds_the_published_wording(world_a):
    services.install_standard_instruments(world_a.practice)
    items = InstrumentItem.unscoped.filter(practice=world_a.practice)
    item9 = items.get(version__instrument__key="phq9", key="phq9-9")
    assert item9.text == (
        "Thoughts that you would be better off dead or of hurting yourself in some way"
    )
    assert item9.flag == "safety" and item9.position == 9
    gad1 = items.get(version__instrument__key="gad7", key="gad7-1")
    assert gad1.text == "Feeling nervous, anxious or on edge"
    phq9 = InstrumentVersion.unscoped.get(practice=world_a.practice, instrument__key="phq9")
    assert phq9.instructions == (
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    )
    assert [a["label"] for a in phq9.anchors] == [
        "Not at all", "Several days", "More than half the days", "Nearly every day"
    ]
    assert phq9.reliable_change_points == 6
    assert "Spitzer" in Instrument.unscoped.get(pk=phq9.instrument_id).licence_note


def test_management_command_installs_for_every_practice(world_a, world_b):
    out = StringIO()
    call_command("install_instruments", stdout=out)
    assert counts(world_a.practice) == counts(world_b.practice) == (3, 3, EXPECTED_ITEMS)
    assert "alpha: Session check-in, PHQ-9, GAD-7" in out.getvalue()


def test_factory_practices_have_the_instruments(db):
    practice = PracticeWithInstrumentsFactory()
    assert counts(practice) == (3, 3, EXPECTED_ITEMS)


# --- Custom instruments and versions ----------------------------------------------------------


def definition(*texts, rule="sum", lo=0, hi=4, **extra):
    return {
        "scale_min": lo,
        "scale_max": hi,
        "scoring_rule": rule,
        "items": [{"key": f"q{n}", "text": t} for n, t in enumerate(texts, start=1)],
        **extra,
    }


@pytest.fixture
def custom(world_a):
    with world_a.scope():
        yield services.create_custom_instrument(
            practice=world_a.practice,
            actor=world_a.admin,
            name="Licensed Scale",
            kind="alliance",
            licence_note="Licence 123 held by the practice",
            version=definition("First question", "Second question"),
        )


def test_create_custom_instrument(world_a, custom):
    with world_a.scope():
        assert custom.key == "custom-licensed-scale"
        assert (custom.source, custom.kind, custom.is_enabled) == ("custom", "alliance", True)
        (version,) = custom.versions.all()
        assert version.number == 1 and version.created_by == world_a.admin
        assert [i.text for i in version.items.order_by("position")] == [
            "First question", "Second question"
        ]
        again = services.create_custom_instrument(
            practice=world_a.practice, actor=world_a.admin, name="Licensed scale!",
            kind="outcome", version=definition("Q"),
        )
        assert again.key == "custom-licensed-scale-2"


def test_create_refuses_a_bad_definition_and_writes_nothing(world_a):
    with world_a.scope():
        with pytest.raises(ValidationError) as caught:
            services.create_custom_instrument(
                practice=world_a.practice, actor=world_a.admin, name="Broken", kind="outcome",
                version=definition("Q", lo=5, hi=2),
            )
        assert "scale_max" in caught.value.message_dict
        with pytest.raises(ValidationError) as caught:
            services.create_custom_instrument(
                practice=world_a.practice, actor=world_a.admin, name=" ", kind="neither",
                version=definition("Q"),
            )
        assert set(caught.value.message_dict) == {"name", "kind"}
        assert Instrument.objects.count() == 0


def submit(world, version, values, **kwargs):
    answers = {f"q{n}": v for n, v in enumerate(values, start=1)}
    return services.submit_response(
        practice=world.practice, client=world.client, version=version, answers=answers,
        channel="portal", **kwargs,
    )


def test_an_unanswered_version_is_edited_in_place(world_a, custom):
    with world_a.scope():
        version = custom.versions.get()
        result = services.revise_custom_instrument(
            practice=world_a.practice, actor=world_a.admin, instrument=custom,
            name="Licensed Scale", kind="alliance",
            version=definition("First question, reworded", "Second question", "Third"),
        )
        assert result.pk == version.pk and result.number == 1
        assert InstrumentVersion.objects.filter(instrument=custom).count() == 1
        assert list(result.items.order_by("position").values_list("text", flat=True)) == [
            "First question, reworded", "Second question", "Third"
        ]


def test_a_version_with_a_response_is_immutable(world_a, custom):
    with world_a.scope():
        v1 = custom.versions.get()
        response = submit(world_a, v1, [3, 1])
        assert v1.is_locked
        # Direct edits of the version or its items are refused ...
        v1.scale_max = 10
        with pytest.raises(ValidationError, match="already has answers"):
            v1.save()
        item = v1.items.get(key="q1")
        item.text = "Changed"
        with pytest.raises(ValidationError, match="already has answers"):
            item.save()
        with pytest.raises(ValidationError, match="already has answers"):
            InstrumentItem(practice=world_a.practice, version=v1, key="q9", position=9,
                           text="Added").save()
        with pytest.raises(ValidationError, match="already has answers"):
            services.update_version(
                practice=world_a.practice, actor=world_a.admin, version=v1,
                definition=definition("Changed"),
            )
        with pytest.raises(ValidationError, match="already has answers"):
            v1.delete()
        # ... and nothing changed.
        v1.refresh_from_db()
        assert v1.scale_max == 4
        assert list(v1.items.order_by("position").values_list("text", flat=True)) == [
            "First question", "Second question"
        ]
        assert response.instrument_version_id == v1.pk


def test_editing_an_answered_instrument_creates_version_2(world_a, custom):
    with world_a.scope():
        v1 = custom.versions.get()
        old = submit(world_a, v1, [3, 1])
        v2 = services.revise_custom_instrument(
            practice=world_a.practice, actor=world_a.admin, instrument=custom,
            name="Licensed Scale (2nd ed.)", kind="alliance",
            version=definition("First question", "Second question", "New third", hi=5),
        )
        assert v2.number == 2 and v2.pk != v1.pk
        assert v2.scale_max == 5 and v2.items.count() == 3
        assert v1.items.count() == 2  # v1 keeps its questions
        old.refresh_from_db()
        assert old.instrument_version_id == v1.pk  # old answers keep pointing at v1
        assert {a.item.version_id for a in old.answers.select_related("item")} == {v1.pk}
        new = submit(world_a, v2, [5, 5, 5])
        assert new.instrument_version_id == v2.pk and new.total == 15
        custom.refresh_from_db()
        assert custom.name == "Licensed Scale (2nd ed.)"
        assert services.current_version(custom) == v2


def test_an_edit_that_changes_no_question_makes_no_version(world_a, custom):
    with world_a.scope():
        v1 = custom.versions.get()
        submit(world_a, v1, [3, 1])
        result = services.revise_custom_instrument(
            practice=world_a.practice, actor=world_a.admin, instrument=custom,
            name="Renamed only", kind="alliance", licence_note="New licence text",
            version=definition("First question", "Second question"),
        )
        assert result.pk == v1.pk
        assert custom.versions.count() == 1
        custom.refresh_from_db()
        assert (custom.name, custom.licence_note) == ("Renamed only", "New licence text")


def test_an_answered_instruments_kind_cannot_change(world_a, custom):
    with world_a.scope():
        submit(world_a, custom.versions.get(), [1, 1])
        with pytest.raises(ValidationError) as caught:
            services.revise_custom_instrument(
                practice=world_a.practice, actor=world_a.admin, instrument=custom,
                name="Licensed Scale", kind="outcome", version=definition("Other"),
            )
        assert "kind" in caught.value.message_dict
        assert custom.versions.count() == 1
        assert Instrument.objects.get(pk=custom.pk).kind == "alliance"


def test_standard_instruments_cannot_be_revised(world_a):
    services.install_standard_instruments(world_a.practice)
    with world_a.scope():
        phq9 = Instrument.objects.get(key="phq9")
        with pytest.raises(ValidationError, match="published wording"):
            services.revise_custom_instrument(
                practice=world_a.practice, actor=world_a.admin, instrument=phq9,
                name="PHQ-9", kind="outcome", version=definition("Anything"),
            )
        assert phq9.versions.count() == 1


def test_a_version_with_responses_cannot_be_deleted_with_its_instrument(world_a, custom):
    from django.db.models import RestrictedError

    with world_a.scope():
        submit(world_a, custom.versions.get(), [1, 2])
        with pytest.raises(RestrictedError):
            Instrument.objects.filter(pk=custom.pk).delete()
        assert CheckinResponse.objects.count() == 1 and Answer.objects.count() == 2


def test_a_new_practice_comes_with_the_standard_instruments(client, django_user_model):
    from accounts.services import create_practice
    from feedback.models import Instrument
    from portal.tenancy.context import practice_scope
    from portal.testing import UserFactory

    practice = create_practice(
        user=UserFactory(), name="Fresh Start", slug="fresh-start", time_zone="Europe/Berlin"
    )
    with practice_scope(practice):
        keys = set(Instrument.objects.values_list("key", flat=True))
    from feedback.instruments import STANDARD_KEYS

    assert keys == set(STANDARD_KEYS) and len(keys) == 3
