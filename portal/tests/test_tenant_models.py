"""Every tenant table is practice-scoped, and the scope works (DESIGN.md, "Multi-tenancy").

The model list comes from the app registry, so a model added later is checked without editing
this file.
"""

import pytest
from django.apps import apps
from django.db import models
from django.db.models import F

from accounts.models import Invitation, Membership, User
from care.models import CaseloadAssignment, Client
from portal.tenancy.context import PracticeScopeMissing, current_practice, practice_scope
from portal.tenancy.models import Practice, PracticeScopedManager, PracticeScopedModel
from portal.testing import InvitationFactory

TENANT_APPS = ("accounts", "care", "feedback")
NOT_TENANT_OWNED = {User}  # one account may belong to several practices


def tenant_models() -> list[type[models.Model]]:
    return [
        model
        for label in TENANT_APPS
        for model in apps.get_app_config(label).get_models()
        if model not in NOT_TENANT_OWNED
    ]


TENANT_MODELS = tenant_models()
by_label = pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m._meta.label)


def test_the_registry_is_not_empty():
    # Guards the parametrized tests below against passing on an empty list.
    assert {Membership, Invitation, Client, CaseloadAssignment} <= set(TENANT_MODELS)


@by_label
def test_model_is_practice_scoped(model):
    assert issubclass(model, PracticeScopedModel), (
        f"{model._meta.label} must subclass portal.tenancy.models.PracticeScopedModel"
    )
    practice = model._meta.get_field("practice")
    assert isinstance(practice, models.ForeignKey)
    assert practice.related_model is Practice
    assert practice.null is False


@by_label
def test_default_manager_fails_closed(model):
    assert current_practice() is None
    assert isinstance(model._default_manager, PracticeScopedManager)
    assert model._default_manager is model.objects
    with pytest.raises(PracticeScopeMissing):
        model.objects.all()
    with pytest.raises(PracticeScopeMissing):
        model.objects.filter(pk=1).exists()


def _names_practice(part) -> bool:
    if isinstance(part, str):
        return part in ("practice", "practice_id")
    return isinstance(part, F) and part.name in ("practice", "practice_id")


@by_label
def test_every_unique_constraint_includes_practice(model):
    meta = model._meta
    for constraint in meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint):
            continue
        parts = list(constraint.fields) + list(constraint.expressions)
        assert any(_names_practice(p) for p in parts), (
            f"{meta.label}: unique constraint {constraint.name} must include practice"
        )
    for fields in meta.unique_together:
        assert "practice" in fields, f"{meta.label}: unique_together {fields} must include practice"
    for f in meta.concrete_fields:
        if f.primary_key:
            continue
        assert not f.unique, (
            f"{meta.label}.{f.name} is unique=True (a OneToOneField is too): make it a "
            f"UniqueConstraint over practice and {f.name} instead"
        )


def test_the_checks_see_expression_constraints():
    # Membership's case-insensitive e-mail constraint is an expression one; the test above must
    # read its expressions, not only its fields.
    constraint = next(
        c for c in Membership._meta.constraints if c.name == "membership_one_per_email_per_practice"
    )
    assert constraint.fields == ()
    assert any(_names_practice(p) for p in constraint.expressions)


# --- The scope at work ------------------------------------------------------------------------


@pytest.fixture
def two_practices(world_a, world_b):
    for world in (world_a, world_b):
        InvitationFactory(practice=world.practice)
    return world_a, world_b


@by_label
def test_scope_sees_only_its_practice(two_practices, model):
    a, b = two_practices
    with practice_scope(a.practice):
        in_scope = list(model.objects.values_list("pk", "practice_id"))
    expected = list(model.unscoped.filter(practice=a.practice).values_list("pk", "practice_id"))
    assert sorted(in_scope) == sorted(expected)
    if model in (Membership, Invitation, Client, CaseloadAssignment):
        # The fixtures give both practices rows here, so the comparison above means something.
        assert expected and model.unscoped.filter(practice=b.practice).exists()


def test_related_managers_are_scoped_too(two_practices):
    a, b = two_practices
    with practice_scope(a.practice):
        assert list(b.client.assignments.all()) == []
        assert a.client.assignments.count() == 1


def test_saving_another_practices_row_inside_a_scope_raises(two_practices):
    a, b = two_practices
    client = Client.unscoped.get(pk=b.client.pk)
    client.first_name = "Changed"
    with practice_scope(a.practice):
        with pytest.raises(ValueError, match="Refusing to save"):
            client.save()
        with pytest.raises(ValueError, match="Refusing to save"):
            Client(practice=b.practice, membership=b.admin, first_name="X", last_name="Y").save()
    assert Client.unscoped.get(pk=b.client.pk).first_name != "Changed"
    assert not Client.unscoped.filter(membership=b.admin).exists()


def test_bulk_writes_through_the_scope_cannot_reach_another_practice(two_practices):
    a, b = two_practices
    with practice_scope(a.practice):
        assert Client.objects.filter(pk=b.client.pk).update(first_name="Changed") == 0
        deleted, _ = CaseloadAssignment.objects.filter(client_id=b.client.pk).delete()
        assert deleted == 0
    assert Client.unscoped.get(pk=b.client.pk).first_name != "Changed"
    assert CaseloadAssignment.unscoped.filter(client_id=b.client.pk).count() == 1


def test_scope_is_restored_after_nesting_and_errors(two_practices):
    a, b = two_practices
    with practice_scope(a.practice):
        with pytest.raises(RuntimeError):
            with practice_scope(b.practice):
                assert current_practice() == b.practice
                raise RuntimeError
        assert current_practice() == a.practice
    assert current_practice() is None


def test_scope_is_reset_after_a_request(world_a, as_member):
    client = as_member(world_a.clinician)
    page = client.get(world_a.url())
    # 200 means the view queried Client.objects, which only works with the scope set.
    assert page.status_code == 200
    assert world_a.client.full_name in page.content.decode()
    assert current_practice() is None


def test_scope_is_reset_after_a_404(world_a, world_b, as_member):
    client = as_member(world_a.admin)
    assert client.get(world_a.url(f"clients/{world_b.client.pk}/")).status_code == 404
    assert current_practice() is None


def test_scope_is_reset_after_an_exception_in_a_view(world_a, as_member, monkeypatch):
    seen = []

    def exploding_caseload(membership, **kwargs):
        seen.append(current_practice())
        raise RuntimeError("boom")

    monkeypatch.setattr("portal.views.caseload_selectors.caseload_rows", exploding_caseload)
    client = as_member(world_a.clinician)
    with pytest.raises(RuntimeError, match="boom"):
        client.get(world_a.url())
    assert seen == [world_a.practice]  # the view did run inside the practice's scope
    assert current_practice() is None
