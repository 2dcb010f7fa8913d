"""A client's own data: a readable page and a JSON download of what they may see."""

import json

import pytest

from care.models import CareRequest, TerminationPlan, TreatmentPlan
from portal.audit.models import AuditEvent
from portal.exports.tests.support import populate
from portal.testing import make_plan


@pytest.fixture
def record(world_a, world_b):
    parts = populate(world_a)
    populate(world_a, client=world_a.other_client, marker="Ooother")
    populate(world_b, marker="Bbmarker")
    return parts


def test_the_client_downloads_their_own_data(world_a, as_member, record):
    http = as_member(world_a.client.membership)
    response = http.get(world_a.url("my/data.json"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="my-data-')
    data = json.loads(response.content)
    assert data["you"]["email"] == world_a.client.membership.email
    goals = data["treatment_plans"][0]["goals"]
    assert goals[0]["text"] == "Qqmarker plan: goal"
    assert [c["text"] for c in data["comments"]] == ["Qqmarker plan: comment"]
    assert data["comments"][0]["by"] == "You"
    assert data["agenda_items"][0]["text"] == "Qqmarker agenda"
    assert data["requests"][0]["reason"] == "Qqmarker reason"
    checkins = {c["id"]: c for c in data["checkins"]}
    assert len(checkins) == 3 and checkins[record.mistake.pk]["marked_as_entered_in_error"]
    assert checkins[record.checkin.pk]["score"] == pytest.approx(record.checkin.index)
    assert {"question": "If you'd like to, tell us a little about it.", "answer": "Qqmarker moment"} in checkins[record.checkin.pk]["answers"]
    text = response.content.decode()
    # Not the care team's working notes, not another client's, not another practice's.
    for absent in ("Qqmarker clinician note", "Qqmarker reason text", "Ooother", "Bbmarker"):
        assert absent not in text
    event = AuditEvent.unscoped.get(action=AuditEvent.Action.DOWNLOAD_OWN_DATA)
    assert (event.practice_id, event.target_id) == (world_a.practice.pk, world_a.client.pk)


def test_the_readable_page_shows_the_same_and_escapes_it(world_a, as_member, record):
    with world_a.scope():
        record.agenda.text = "<script>alert(1)</script>"
        record.agenda.save()
    page = as_member(world_a.client.membership).get(world_a.url("my/data/")).content.decode()
    assert "Qqmarker plan: goal" in page and "Qqmarker moment" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "Qqmarker clinician note" not in page and "Ooother" not in page


def test_a_draft_plan_stays_with_the_care_team(world_a, as_member):
    make_plan(practice=world_a.practice, client=world_a.client, clinician=world_a.clinician,
              text="Ddraft", shared=False)
    with world_a.scope():
        assert TreatmentPlan.objects.filter(client=world_a.client, status="draft").exists()
    response = as_member(world_a.client.membership).get(world_a.url("my/data.json"))
    assert "Ddraft" not in response.content.decode()


@pytest.mark.parametrize("who", ["admin", "clinician"])
def test_staff_have_no_my_data_page(world_a, as_member, who):
    http = as_member(getattr(world_a, who))
    assert http.get(world_a.url("my/data/")).status_code == 404
    assert http.get(world_a.url("my/data.json")).status_code == 404


def test_the_page_takes_the_same_number_of_queries_for_more_data(world_a, as_member, django_assert_max_num_queries):
    http = as_member(world_a.client.membership)
    populate(world_a)
    with django_assert_max_num_queries(40) as small:
        http.get(world_a.url("my/data.json"))
    TreatmentPlan.unscoped.filter(client=world_a.client).update(status="closed")
    CareRequest.unscoped.filter(client=world_a.client).update(status="answered")
    TerminationPlan.unscoped.filter(client=world_a.client).update(status="cancelled")
    populate(world_a, marker="Again")  # a second plan, more check-ins, sessions, comments
    with django_assert_max_num_queries(len(small.captured_queries)):
        http.get(world_a.url("my/data.json"))
