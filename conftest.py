"""Shared pytest fixtures. Tests run on PostgreSQL and Redis when DATABASE_URL / REDIS_URL are
set (CI), on SQLite and local services otherwise."""

import pytest
from django.db import connection

from accounts.models import Membership
from portal.celery import app as celery_app
from portal.tenancy.context import practice_scope
from portal.testing import (
    AssignmentFactory,
    ClientFactory,
    MembershipFactory,
    PracticeFactory,
)


@pytest.fixture(autouse=True)
def _fast_and_local(settings):
    # Argon2 is the production hasher (tested on its own); tests use a fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SITE_URL = "http://testserver"
    # The link rate limits count across tests in one cache; tests of the limits set their own.
    settings.RAPPORT_RATE_LIMITS = {k: "100000/1m" for k in settings.RAPPORT_RATE_LIMITS}
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


class PracticeWorld:
    """One practice with an admin, two clinicians and clients (one shared)."""

    def __init__(self, slug):
        self.practice = PracticeFactory(slug=slug, name=slug.title())
        p = self.practice
        self.admin = MembershipFactory(practice=p, role=Membership.Role.ADMIN)
        self.clinician = MembershipFactory(practice=p, role=Membership.Role.CLINICIAN)
        self.clinician2 = MembershipFactory(practice=p, role=Membership.Role.CLINICIAN)
        self.client = ClientFactory(practice=p)  # with clinician
        self.other_client = ClientFactory(practice=p)  # with clinician2 only
        self.shared_client = ClientFactory(practice=p)  # with both
        AssignmentFactory(practice=p, client=self.client, clinician=self.clinician)
        AssignmentFactory(practice=p, client=self.other_client, clinician=self.clinician2)
        AssignmentFactory(practice=p, client=self.shared_client, clinician=self.clinician)
        AssignmentFactory(practice=p, client=self.shared_client, clinician=self.clinician2)

    def scope(self):
        return practice_scope(self.practice)

    def url(self, suffix=""):
        return f"/p/{self.practice.slug}/{suffix}"


@pytest.fixture
def world_a(db):
    return PracticeWorld("alpha")


@pytest.fixture
def world_b(db):
    return PracticeWorld("bravo")


@pytest.fixture
def as_member(client):
    """Sign the test client in as a membership's user: as_member(world.clinician)."""

    def sign_in(membership):
        client.force_login(membership.user)
        return client

    return sign_in
