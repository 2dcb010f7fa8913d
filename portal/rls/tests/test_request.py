"""A request under the app role: the database keeps a forgotten filter from leaking.

The test client runs in the test's transaction, so SET LOCAL ROLE rapport_app makes the whole
request (middleware, view, templates) run as the application role, as production does.
"""

import pytest
from django.db import connection

from portal.rls.db import app_entry_point, desired_settings
from portal.rls.testing import as_app_role, as_owner
from portal.tenancy.context import current_practice

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.urls("portal.rls.tests.leaky_urls"),
]


def leaked(client, world):
    response = client.get(world.url("rls-leak/clients/"))
    assert response.status_code == 200
    return {practice_id for _, practice_id, _ in response.json()["clients"]}


def test_an_unscoped_query_in_a_request_returns_no_other_practices_rows(
    world_a, world_b, as_member
):
    client = as_member(world_a.clinician)
    # As the owner/superuser (no RLS) the view really does leak: the test can see a leak.
    with as_owner():
        assert leaked(client, world_a) == {world_a.practice.pk, world_b.practice.pk}
    with as_app_role():
        assert leaked(client, world_a) == {world_a.practice.pk}
        # And the other way round, for a member of the other practice.
        other = as_member(world_b.admin)
        assert leaked(other, world_b) == {world_b.practice.pk}
    # Nothing of the request is left behind (outside a request, a task or the suite's test code
    # the bypass is off).
    assert current_practice() is None
    with app_entry_point():
        assert desired_settings() == ("", "")


def test_the_real_pages_work_under_the_app_role(world_a, world_b, as_member):
    """Membership lookup (bypass), the practice picker (bypass) and tenant pages (scoped)."""
    with as_app_role():
        client = as_member(world_a.clinician)
        home = client.get(world_a.url())
        assert home.status_code == 200
        assert world_a.client.full_name in home.content.decode()
        assert world_b.client.full_name not in home.content.decode()
        # Not a member of B: the same 404 as before.
        assert client.get(world_b.url()).status_code == 404
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == "rapport_app"


def test_the_operator_admin_sees_every_practice_and_practice_pages_do_not(
    world_a, world_b, as_member
):
    from django.test import Client as HttpClient

    from portal.testing import UserFactory, enroll_totp

    operator = UserFactory(is_staff=True, is_superuser=True)
    enroll_totp(operator)
    ops = HttpClient()
    ops.force_login(operator)
    with as_app_role():
        page = ops.get("/admin/accounts/membership/")
        assert page.status_code == 200
        body = page.content.decode()
        # The operator's admin is deliberately cross-practice (RowLevelSecurityMiddleware).
        assert world_a.clinician.email in body and world_b.clinician.email in body
        # The same database role on a practice page stays inside the practice.
        assert leaked(as_member(world_a.admin), world_a) == {world_a.practice.pk}
