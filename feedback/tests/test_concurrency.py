"""A version being answered cannot be rewritten at the same moment (PostgreSQL row locks)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from feedback import services
from feedback.models import CheckinResponse, InstrumentItem
from portal.tenancy.context import practice_scope

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_an_edit_waits_for_an_answer_in_flight_then_refuses(world_a):
    with world_a.scope():
        instrument = services.create_custom_instrument(
            practice=world_a.practice, actor=world_a.admin, name="Raced", kind="outcome",
            version={"scale_min": 0, "scale_max": 4, "scoring_rule": "sum",
                     "items": [{"key": "q1", "text": "Only question"}]},
        )
        version = services.current_version(instrument)
    submitted, release = threading.Event(), threading.Event()
    outcome = {}

    def answer():
        try:
            with practice_scope(world_a.practice), transaction.atomic():
                services.submit_response(
                    practice=world_a.practice, client=world_a.client, version=version,
                    answers={"q1": 2}, channel="portal",
                )
                submitted.set()
                release.wait(10)  # the response is stored but not yet committed
        finally:
            submitted.set()
            connection.close()

    def edit():
        try:
            with practice_scope(world_a.practice):
                services.update_version(
                    practice=world_a.practice, actor=world_a.admin, version=version,
                    definition={"scale_min": 0, "scale_max": 4, "scoring_rule": "sum",
                                "items": [{"key": "q1", "text": "Reworded"}]},
                )
            outcome["edit"] = "rewrote the version"
        except ValidationError as error:
            outcome["edit"] = error.messages[0]
        finally:
            connection.close()

    answering = threading.Thread(target=answer)
    answering.start()
    assert submitted.wait(10)
    editing = threading.Thread(target=edit)
    editing.start()
    editing.join(1.0)
    assert editing.is_alive(), "the edit must wait for the answer's transaction"
    release.set()
    answering.join(10)
    editing.join(10)
    assert "already has answers" in outcome["edit"]
    assert CheckinResponse.unscoped.filter(instrument_version=version).count() == 1
    assert list(InstrumentItem.unscoped.filter(version=version).values_list("text", flat=True)) == [
        "Only question"
    ]
