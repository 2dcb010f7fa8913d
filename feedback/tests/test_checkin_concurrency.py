"""Races that only a real database shows (PostgreSQL row locks): two submits of one check-in at
the same moment, and two jobs creating the same due invitations at the same moment."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction

from feedback.models import Answer, CheckinEmail, CheckinInvitation, CheckinResponse
from feedback.services import checkins as services
from feedback.testing import SESSION_CHECKIN_ANSWERS, make_checkin
from feedback.tests.checkin_support import checkin_world, plan_for
from portal.tenancy.context import practice_scope

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(world_a):
    return checkin_world(world_a)


def test_two_submits_at_once_store_one_response(world):
    checkin = make_checkin(practice=world.practice, client=world.client)
    first_in, release = threading.Event(), threading.Event()
    results = {}

    def submit(name, answers, hold=False):
        try:
            with practice_scope(world.practice), transaction.atomic():
                results[name] = services.complete_checkin(
                    practice=world.practice, invitation=checkin, answers=answers, via="link",
                )
                if hold:
                    first_in.set()
                    release.wait(10)  # stored, not yet committed
        finally:
            first_in.set()
            connection.close()

    first = threading.Thread(target=submit, args=("first", SESSION_CHECKIN_ANSWERS, True))
    first.start()
    assert first_in.wait(10)
    second = threading.Thread(
        target=submit, args=("second", {**SESSION_CHECKIN_ANSWERS, "heard": 0})
    )
    second.start()
    second.join(1.0)
    assert second.is_alive(), "the second submit must wait for the first one's lock"
    release.set()
    first.join(10)
    second.join(10)
    assert results["first"].created is True and results["second"].created is False
    assert results["second"].response.pk == results["first"].response.pk
    assert CheckinResponse.unscoped.count() == 1 and Answer.unscoped.count() == 8
    checkin.refresh_from_db()
    assert checkin.status == "completed"


def test_two_jobs_at_once_create_each_invitation_once(world):
    plan_for(world, cadence="every_n_days", every=7)
    plan_for(world, client=world.shared_client, cadence="every_n_days", every=7)
    barrier = threading.Barrier(2)
    created = []

    def job():
        try:
            barrier.wait(5)
            with practice_scope(world.practice):
                created.extend(services.create_due_invitations(practice=world.practice))
        finally:
            connection.close()

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(created) == 2
    assert CheckinInvitation.unscoped.count() == 2
    assert CheckinEmail.unscoped.count() == 2  # one invite e-mail each


def test_a_job_waiting_on_a_locked_plan_skips_it_and_the_next_run_finds_nothing_new(world):
    plan = plan_for(world, cadence="every_n_days", every=7)
    locked, release = threading.Event(), threading.Event()

    def hold_plan():
        try:
            with transaction.atomic():
                list(type(plan).unscoped.select_for_update().filter(pk=plan.pk))
                locked.set()
                release.wait(10)
        finally:
            locked.set()
            connection.close()

    holder = threading.Thread(target=hold_plan)
    holder.start()
    assert locked.wait(10)
    with world.scope():
        assert services.create_due_invitations(practice=world.practice) == []  # skipped
    release.set()
    holder.join(10)
    with world.scope():
        assert len(services.create_due_invitations(practice=world.practice)) == 1
        assert services.create_due_invitations(
            practice=world.practice, now=None
        ) == []
    assert CheckinInvitation.unscoped.get().expires_at - timedelta(days=4) \
        == CheckinInvitation.unscoped.get().due_at
