"""Found by the fault tests: the beat jobs fanned out one task per *plan* (or alert), not per
practice, because the models' Meta.ordering leaked into SELECT DISTINCT. Harmless to the data
(each task is idempotent) but N duplicate jobs a minute. Fast: eager Celery, any database."""

import pytest

from feedback.tasks import dispatch_due_checkins
from feedback.tests.checkin_support import checkin_world, plan_for

pytestmark = pytest.mark.django_db


def test_dispatch_fans_out_once_per_practice_not_once_per_plan(world_a, world_b):
    worlds = [checkin_world(world_a), checkin_world(world_b, names=("Bo", "Bright"))]
    for world in worlds:  # two plans in each practice
        for client in (world.client, world.shared_client):
            plan_for(world, client=client, cadence="every_n_days", every=7)
    assert dispatch_due_checkins() == 2  # one create_due_checkins task per practice
