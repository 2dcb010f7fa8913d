"""Submitting, scoring and storing check-ins; entered-in-error responses."""

import pytest
from django.core.exceptions import ValidationError

from care.models import TherapySession
from feedback import services
from feedback.models import Answer, CheckinResponse, InstrumentVersion

CORE = ["heard", "my-goals", "approach", "pace", "cared", "challenged", "say", "overall"]


@pytest.fixture
def versions(world_a, world_b):
    services.install_standard_instruments(world_a.practice)
    services.install_standard_instruments(world_b.practice)
    with world_a.scope():
        return {v.instrument.key: v for v in InstrumentVersion.objects.select_related("instrument")}


def session_of(world, client=None):
    return TherapySession.unscoped.create(
        practice=world.practice, client=client or world.client, clinician=world.clinician,
        starts_at="2026-01-05T10:00:00Z",
    )


def stored():
    return CheckinResponse.unscoped.count(), Answer.unscoped.count()


def test_submit_a_session_checkin(world_a, versions):
    session = session_of(world_a)
    answers = dict(zip(CORE, [10, 9, 8, 7, 10, 6, 9, 8], strict=True)) | {
        "rupture": "yes",
        "rupture-detail": "When we talked about my father.",
    }
    with world_a.scope():
        response = services.submit_response(
            practice=world_a.practice, client=world_a.client, version=versions["session-checkin"],
            answers=answers, channel="email", session=session,
            respondent=world_a.client.membership,
        )
    response = CheckinResponse.unscoped.get(pk=response.pk)
    assert response.index == 8.375 and response.mean == 8.375 and response.total == 67
    assert response.rupture_reported is True and response.safety_item_positive is False
    assert response.subscale_scores == {"bond": 10.0, "goals": 9.0, "tasks": 7.0}
    assert (response.session_id, response.channel) == (session.pk, "email")
    assert response.respondent_id == world_a.client.membership.pk
    assert response.band_label == "" and response.band_severity is None
    stored_answers = {
        a.item.key: (a.value, a.text) for a in Answer.unscoped.filter(response=response)
        .select_related("item")
    }
    assert stored_answers["heard"] == (10, "")
    assert stored_answers["rupture"] == (1, "")
    assert stored_answers["rupture-detail"] == (None, "When we talked about my father.")
    assert "do-differently" not in stored_answers  # not answered, not stored
    assert len(stored_answers) == 10
    assert all(a.practice_id == world_a.practice.pk for a in Answer.unscoped.all())


def test_submit_a_phq9_with_item9_positive(world_a, versions):
    answers = {f"phq9-{n}": 2 for n in range(1, 9)} | {"phq9-9": 1, "difficulty": 2}
    with world_a.scope():
        response = services.submit_response(
            practice=world_a.practice, client=world_a.client, version=versions["phq9"],
            answers=answers, channel="portal",
        )
    response.refresh_from_db()
    assert response.total == 17
    assert (response.band_label, response.band_severity) == ("Moderately severe", 3)
    assert response.safety_item_positive is True
    assert response.index is None
    assert response.score == 17


@pytest.mark.parametrize(
    "change, key",
    [
        ({"pace": -1}, "pace"),
        ({"pace": 11}, "pace"),
        ({"pace": "seven"}, "pace"),
        ({"unknown-item": 3}, "unknown-item"),
        ({"overall": None}, "overall"),
    ],
)
def test_bad_answers_store_nothing(world_a, versions, change, key):
    answers = dict.fromkeys(CORE, 8) | change
    with world_a.scope():
        with pytest.raises(ValidationError) as caught:
            services.submit_response(
                practice=world_a.practice, client=world_a.client,
                version=versions["session-checkin"], answers=answers, channel="portal",
            )
    assert list(caught.value.message_dict) == [key]
    assert stored() == (0, 0)


@pytest.mark.parametrize("bad", [-1, 4])
def test_phq9_out_of_range_stores_nothing(world_a, versions, bad):
    answers = {f"phq9-{n}": 1 for n in range(1, 10)} | {"phq9-4": bad}
    with world_a.scope():
        with pytest.raises(ValidationError) as caught:
            services.submit_response(
                practice=world_a.practice, client=world_a.client, version=versions["phq9"],
                answers=answers, channel="portal",
            )
    assert caught.value.message_dict == {"phq9-4": ["Choose a number from 0 to 3."]}
    assert stored() == (0, 0)


def test_cross_practice_submissions_are_refused(world_a, world_b, versions):
    answers = dict.fromkeys(CORE, 8)
    b_version = InstrumentVersion.unscoped.get(
        practice=world_b.practice, instrument__key="session-checkin"
    )
    with world_a.scope():
        with pytest.raises(ValidationError):
            services.submit_response(
                practice=world_a.practice, client=world_b.client,
                version=versions["session-checkin"], answers=answers, channel="portal",
            )
        with pytest.raises(ValidationError):
            services.submit_response(
                practice=world_a.practice, client=world_a.client, version=b_version,
                answers=answers, channel="portal",
            )
        # A session of another client of the same practice:
        with pytest.raises(ValidationError) as caught:
            services.submit_response(
                practice=world_a.practice, client=world_a.client,
                version=versions["session-checkin"], answers=answers, channel="portal",
                session=session_of(world_a, world_a.other_client),
            )
        assert "session" in caught.value.message_dict
        with pytest.raises(ValidationError):
            services.submit_response(
                practice=world_a.practice, client=world_a.client,
                version=versions["session-checkin"], answers=answers, channel="carrier pigeon",
            )
    assert stored() == (0, 0)


def test_mark_entered_in_error_keeps_the_response_but_stops_it_counting(world_a, versions):
    with world_a.scope():
        kept = services.submit_response(
            practice=world_a.practice, client=world_a.client,
            version=versions["session-checkin"], answers=dict.fromkeys(CORE, 9),
            channel="in_session", respondent=world_a.clinician,
        )
        wrong = services.submit_response(
            practice=world_a.practice, client=world_a.client,
            version=versions["session-checkin"], answers=dict.fromkeys(CORE, 2),
            channel="in_session", respondent=world_a.clinician,
        )
        with pytest.raises(ValidationError) as caught:
            services.mark_entered_in_error(
                practice=world_a.practice, actor=world_a.clinician, response=wrong, reason="  "
            )
        assert "reason" in caught.value.message_dict
        with pytest.raises(ValidationError):
            services.mark_entered_in_error(
                practice=world_a.practice, actor=world_a.client.membership, response=wrong,
                reason="I changed my mind",
            )
        assert CheckinResponse.objects.counted().count() == 2

        services.mark_entered_in_error(
            practice=world_a.practice, actor=world_a.clinician, response=wrong,
            reason="Entered on the wrong client's tablet.",
        )
        wrong.refresh_from_db()
        assert wrong.is_entered_in_error
        assert wrong.entered_in_error_by == world_a.clinician
        assert wrong.entered_in_error_reason == "Entered on the wrong client's tablet."
        assert wrong.answers.count() == 8  # kept
        assert list(CheckinResponse.objects.counted()) == [kept]
        assert CheckinResponse.objects.count() == 2
        with pytest.raises(ValidationError, match="already marked"):
            services.mark_entered_in_error(
                practice=world_a.practice, actor=world_a.admin, response=wrong, reason="Again"
            )
        # Entered in error or not, the version has responses and stays locked.
        assert versions["session-checkin"].is_locked
