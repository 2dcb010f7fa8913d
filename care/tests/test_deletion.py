"""Deleting a client under the retention policy (docs/retention.md): nothing identifying stays."""

import pytest
from django.apps import apps
from django.db.models import CharField, JSONField, TextField

from accounts.models import Membership, User
from care.models import Client, TreatmentPlan
from feedback.models import Alert, Answer, CheckinResponse
from portal.audit.models import AuditEvent
from portal.exports.tests.support import populate


def _identifying_leftovers(practice, needles, user_id=None) -> list[str]:
    """Every text/JSON cell of every table with a practice key (plus users) that contains one
    of `needles`, and the client's own account row (other people may share a surname). The
    audit log is checked apart (its past events keep the actor's address)."""
    found = []
    for model in apps.get_models():
        fields = {f.name for f in model._meta.concrete_fields}
        if model is AuditEvent:
            continue
        if "practice" in fields:
            rows = model._base_manager.filter(practice=practice)
        elif model is User:
            rows = User.objects.filter(pk=user_id)
        else:
            continue
        text_fields = [f.attname for f in model._meta.concrete_fields
                       if isinstance(f, (CharField, TextField, JSONField))]
        for row in rows.values_list("pk", *text_fields):
            blob = " ".join(str(v) for v in row[1:]).casefold()
            found += [f"{model._meta.label}#{row[0]}: {n}" for n in needles if n.casefold() in blob]
    return found


@pytest.fixture
def deletable(world_a, world_b):
    parts = populate(world_a)
    populate(world_b, marker="Bbmarker")
    client = world_a.client
    # Distinctive names: a random surname could be a substring of a questionnaire's wording.
    client.first_name, client.last_name = "Zelphina", "Quarrington"
    client.phone = "+44 7700 900123"
    client.save()
    user = client.membership.user
    user.first_name, user.last_name = client.first_name, client.last_name
    user.save()
    return parts, [client.first_name, client.last_name, user.email, "Qqmarker", "900123"]


def test_an_admin_deletes_a_client_after_typing_the_name(world_a, world_b, as_member, deletable,
                                                         django_capture_on_commit_callbacks):
    parts, needles = deletable
    client, user = world_a.client, world_a.client.membership.user
    assert _identifying_leftovers(world_a.practice, needles, user.pk)  # the check can fail
    http = as_member(world_a.admin)
    url = world_a.url(f"clients/{client.pk}/delete/")
    assert http.get(url).status_code == 200
    wrong = http.post(url, {"typed_name": "Someone Else"})
    assert wrong.status_code == 200 and "Type the client" in wrong.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(url, {"typed_name": f"  {client.full_name.upper()} "})
    assert response.status_code == 302

    assert _identifying_leftovers(world_a.practice, needles, user.pk) == []
    assert not User.objects.filter(email__iexact=needles[2]).exists()
    # Practice B is untouched.
    assert _identifying_leftovers(world_b.practice, ["Bbmarker agenda"])
    with world_a.scope():
        client.refresh_from_db()
        assert client.full_name == "Deleted client" and client.is_discharged
        assert not TreatmentPlan.objects.filter(client=client).exists()
        # Scores and scale answers stay for the practice's statistics; written answers go.
        kept = CheckinResponse.objects.get(pk=parts.checkin.pk)
        assert kept.index == parts.checkin.index
        assert Answer.objects.filter(response=kept, value__isnull=False).count() == 9
        assert not Answer.objects.filter(response=kept).exclude(text="").exists()
        alert = Alert.objects.get(pk=parts.alert.pk)
        assert alert.acknowledgement_note == "" and all("text" not in r for r in alert.reasons)
        membership = Membership.objects.get(pk=client.membership_id)
    assert membership.status == "inactive" and membership.user is None
    user.refresh_from_db()
    assert not user.is_active and not user.has_usable_password()
    event = AuditEvent.unscoped.get(practice=world_a.practice, action=AuditEvent.Action.DELETE_CLIENT)
    assert (event.target_type, event.target_id, event.actor_id) == ("care.client", client.pk, world_a.admin.user_id)
    assert not [n for n in needles if n.casefold() in str(event.detail).casefold()]


def test_the_deleted_client_is_signed_out_of_the_practice(world_a, as_member, client, deletable):
    who = world_a.client
    as_member(who.membership)
    assert client.get(world_a.url("my/data/")).status_code == 200
    from care.services.deletion import delete_client

    with world_a.scope():
        delete_client(practice=world_a.practice, actor=world_a.admin, client=who,
                      typed_name=who.full_name)
    response = client.get(world_a.url("my/data/"))
    assert response.status_code in (302, 404)


def test_an_account_with_another_practice_is_kept(world_a, world_b, deletable):
    from care.services.deletion import delete_client
    from portal.testing import MembershipFactory

    user = world_a.client.membership.user
    MembershipFactory(practice=world_b.practice, user=user, role="client")
    with world_a.scope():
        delete_client(practice=world_a.practice, actor=world_a.admin, client=world_a.client,
                      typed_name=world_a.client.full_name)
    user.refresh_from_db()
    assert user.is_active and user.has_usable_password()
    assert Membership.unscoped.filter(user=user).count() == 1


@pytest.mark.parametrize("who", ["clinician", "client"])
def test_only_admins_can_delete(world_a, as_member, who):
    member = world_a.clinician if who == "clinician" else world_a.client.membership
    url = world_a.url(f"clients/{world_a.client.pk}/delete/")
    http = as_member(member)
    assert http.get(url).status_code == 404
    assert http.post(url, {"typed_name": world_a.client.full_name}).status_code == 404
    with world_a.scope():
        assert Client.objects.get(pk=world_a.client.pk).first_name != "Deleted"
