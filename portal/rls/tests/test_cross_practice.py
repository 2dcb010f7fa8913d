"""Services that must look across practices on purpose, run as the application role.

Tests elsewhere call these services from test code, which in the suite run as the app role
keeps the owner's view; here they run under the policies, as in production.
"""

import pytest

from accounts.models import Membership
from portal.rls.testing import as_app_role
from portal.testing import MembershipFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_deleting_a_client_keeps_an_account_that_is_a_member_elsewhere(world_a, world_b):
    from care.services.deletion import delete_client

    user = world_a.client.membership.user
    MembershipFactory(practice=world_b.practice, user=user, role="client")
    with as_app_role(), world_a.scope():
        # Under RLS the scope of A hides B's membership unless the check bypasses on purpose:
        # without it the account of a client of B would be anonymised and locked.
        delete_client(practice=world_a.practice, actor=world_a.admin, client=world_a.client,
                      typed_name=world_a.client.full_name)
    user.refresh_from_db()
    assert user.is_active and user.has_usable_password()
    assert Membership.unscoped.filter(user=user).count() == 1
