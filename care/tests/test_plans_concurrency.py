"""Two people save the same plan at the same moment: the plan row lock and the version check
make the second one wait, then refuse it, instead of silently overwriting the first."""

import threading
import time

import pytest
from django.db import connection, transaction

from care.models import PlanGoal, PlanRevision, TreatmentPlan
from care.services import plans as services
from portal.tenancy.context import practice_scope
from portal.testing import make_plan


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_of_one_version_one_saves_the_other_is_refused(world_a):
    world = world_a
    parts = make_plan(
        practice=world.practice, client=world.client, clinician=world.clinician, shared=False
    )
    plan = TreatmentPlan.unscoped.get(pk=parts.plan.pk)
    seen = plan.version
    revisions_before = PlanRevision.unscoped.filter(plan=plan).count()
    first_holds_lock, second_started = threading.Event(), threading.Event()
    outcome, finished_at = {}, {}

    def edit(name, text, actor):
        with practice_scope(world.practice):
            services.edit_goal(
                practice=world.practice, actor=actor, goal=parts.goal, version=seen, text=text
            )

    def first():
        try:
            with practice_scope(world.practice), transaction.atomic():
                TreatmentPlan.objects.select_for_update().get(pk=plan.pk)
                first_holds_lock.set()
                second_started.wait(5)
                time.sleep(0.5)  # the second edit is now waiting for the row lock
                edit("first", "First person's words", world.clinician)
                finished_at["first"] = time.monotonic()
            outcome["first"] = "saved"
        except Exception as error:  # reported by the assertions below
            outcome["first"] = repr(error)
        finally:
            connection.close()

    def second():
        try:
            first_holds_lock.wait(5)
            second_started.set()
            edit("second", "Second person's words", world.admin)
            outcome["second"] = "saved"
        except services.StalePlan:
            outcome["second"] = "stale"
        except Exception as error:
            outcome["second"] = repr(error)
        finally:
            finished_at["second"] = time.monotonic()
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)

    assert outcome == {"first": "saved", "second": "stale"}
    assert finished_at["second"] >= finished_at["first"]  # it waited for the lock
    assert PlanGoal.unscoped.get(pk=parts.goal.pk).text == "First person's words"
    assert PlanRevision.unscoped.filter(plan=plan).count() == revisions_before + 1
    assert TreatmentPlan.unscoped.get(pk=plan.pk).version == seen + 1
