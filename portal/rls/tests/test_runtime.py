"""The settings follow the practice scope statement by statement (portal.rls.db), in a
transaction, across savepoint rollbacks, in autocommit mode and in Celery tasks."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Invitation
from accounts.tasks import sweep_unsent_invitations
from care.models import Client
from portal.rls.db import app_entry_point, rls_bypass
from portal.rls.roles import ensure_app_role
from portal.rls.testing import as_app_role
from portal.tenancy.context import practice_scope
from portal.testing import InvitationFactory

pytestmark = pytest.mark.postgres


def settings_now() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(current_setting('rapport.practice_id', true), ''), "
            "coalesce(current_setting('rapport.rls_bypass', true), '')"
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_the_settings_follow_the_scope_and_the_bypass(world_a, world_b):
    a, b = str(world_a.practice.pk), str(world_b.practice.pk)
    with app_entry_point():
        assert settings_now() == ("", "")
        with practice_scope(world_a.practice):
            assert settings_now() == (a, "")
            with practice_scope(world_b.practice):
                assert settings_now() == (b, "")
            assert settings_now() == (a, "")
            with rls_bypass():
                assert settings_now() == (a, "on")
        assert settings_now() == ("", "")


@pytest.mark.django_db
def test_a_savepoint_rollback_does_not_leave_a_stale_setting(world_a):
    a = str(world_a.practice.pk)
    with app_entry_point():
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            with practice_scope(world_a.practice):
                assert settings_now() == (a, "")  # set inside the savepoint...
                1 / 0
        # ...and undone by ROLLBACK TO SAVEPOINT; the wrapper must send it again.
        with practice_scope(world_a.practice):
            assert settings_now() == (a, "")


@pytest.mark.django_db(transaction=True)
def test_autocommit_statements_carry_the_setting_and_it_does_not_stick(world_a, world_b):
    assert connection.get_autocommit()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, session_user")
        suite_role, owner = cursor.fetchone()  # suite_role is rapport_app in the RLS CI run
        cursor.execute(f"SET ROLE {quote(owner)}")
    ensure_app_role(connection)
    with connection.cursor() as cursor:
        cursor.execute("SET ROLE rapport_app")
    try:
        with app_entry_point():
            with practice_scope(world_a.practice):
                assert settings_now() == (str(world_a.practice.pk), "")
                # No atomic() around it: each statement is its own transaction.
                assert set(Client.unscoped.values_list("practice_id", flat=True)) == {
                    world_a.practice.pk
                }
            # The value ended with its statement's transaction: nothing on the session.
            assert settings_now() == ("", "")
            assert Client.unscoped.count() == 0
            with rls_bypass():
                assert Client.unscoped.count() == Client.unscoped.count() > 0
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {quote(suite_role)}")


@pytest.mark.django_db
def test_celery_fan_out_and_per_practice_tasks_work_under_the_app_role(
    world_a, world_b, mailoutbox
):
    long_ago = timezone.now() - timedelta(hours=1)
    for world in (world_a, world_b):
        InvitationFactory(practice=world.practice)
    Invitation.unscoped.update(created_at=long_ago)
    with as_app_role():
        # Eager tasks, run in this transaction as rapport_app: the beat job finds both
        # practices through rls_bypass(), each send runs in its own practice's scope.
        assert sweep_unsent_invitations.delay().get() == 2
    assert Invitation.unscoped.filter(sent_at__isnull=False).count() == 2
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_migrate_runs_with_the_bypass_so_forced_policies_do_not_hide_rows(world_a, world_b):
    from portal.rls.db import on_post_migrate, on_pre_migrate

    every = Client.unscoped.count()
    with app_entry_point(), as_app_role():
        on_pre_migrate()  # what `manage.py migrate` sends before the first migration
        on_pre_migrate()  # (once per app)
        assert Client.unscoped.count() == every > 0
        on_post_migrate()
        on_post_migrate()
        assert Client.unscoped.count() == 0
