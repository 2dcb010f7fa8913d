"""`seed_demo` is the one way to a living demo: complete, realistic and safe to run again."""

from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Membership, User
from care.models import (
    AgendaItem,
    CaseloadAssignment,
    Client,
    PlanProposal,
    PlanSignature,
    TerminationPlan,
    TherapySession,
    TreatmentPlan,
)
from feedback.models import Instrument

pytestmark = pytest.mark.django_db


def snapshot():
    models = [Membership, Client, CaseloadAssignment, TreatmentPlan, TherapySession, AgendaItem,
              PlanProposal, PlanSignature, TerminationPlan, Instrument]
    return {m.__name__: m.unscoped.count() for m in models} | {"User": User.objects.count()}


def test_refuses_with_debug_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo")
    assert User.objects.count() == 0


def test_seeds_both_practices_with_living_care_and_is_idempotent(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    first = snapshot()
    call_command("seed_demo")
    assert snapshot() == first

    for slug in ("northside", "riverbend"):
        for who in ("admin", "clinician", "clinician2"):
            user = User.objects.get(email=f"{who}@{slug}.test")
            assert user.check_password("rapport-demo")
        clients = Client.unscoped.filter(practice__slug=slug)
        assert clients.count() >= 8
        shared = [
            c for c in clients
            if CaseloadAssignment.unscoped.filter(client=c, ended_at__isnull=True).count() == 2
        ]
        assert shared, "some clients are shared by both clinicians"
        statuses = Counter(
            TreatmentPlan.unscoped.filter(practice__slug=slug).values_list("status", flat=True)
        )
        assert statuses["agreed"] and statuses["proposed"] and statuses["draft"]
        assert PlanProposal.unscoped.filter(practice__slug=slug, status="pending").exists()
        assert TerminationPlan.unscoped.filter(practice__slug=slug, status="open").count() == 1
        for client in clients:
            assert TreatmentPlan.unscoped.filter(client=client).count() == 1
            sessions = TherapySession.unscoped.filter(client=client)
            assert sessions.filter(status="attended").exists()
            assert sessions.filter(status="scheduled").exists()
            assert AgendaItem.unscoped.filter(client=client).exists()
    # An agreed plan is signed by both sides on the same revision.
    agreed = TreatmentPlan.unscoped.filter(status="agreed").first()
    roles = set(PlanSignature.unscoped.filter(plan=agreed).values_list("signer_role", flat=True))
    assert roles == {"client", "clinician"}


def test_the_demo_as_a_new_user_finds_it(settings, client, django_capture_on_commit_callbacks):
    """admin@northside opens the practice report and a clinician's trends; clinician@northside's
    caseload lists the client with the safety alert first (issue #5's acceptance)."""
    settings.DEBUG = True
    with django_capture_on_commit_callbacks(execute=True):  # the queued report run
        call_command("seed_demo")
    admin = User.objects.get(email="admin@northside.test")
    client.force_login(admin)
    report = client.get("/p/northside/reports/practice/").content.decode()
    assert "Priya Raman" in report and "Sam Whitfield" in report
    assert report.index("Priya Raman") < report.index("Sam Whitfield")  # by name, not rank
    assert "Not enough check-ins yet" not in report  # both clinicians have enough to show
    sam = Membership.unscoped.get(user__email="clinician@northside.test", practice__slug="northside")
    trends = client.get(f"/p/northside/reports/clinicians/{sam.pk}/").content.decode()
    assert "Trends for Sam Whitfield" in trends and "adjusted for caseload size" in trends
    client.force_login(sam.user)
    caseload = client.get("/p/northside/").content.decode()
    first = caseload[caseload.index('class="card-title">'):][:80]
    assert "Aisha Rahman" in first
    assert caseload.index("Safety alert", caseload.index("caseload-heading")) < caseload.index(
        "Possible rupture", caseload.index("caseload-heading"))
