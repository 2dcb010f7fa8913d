"""Factories shared by every app's tests. They write through `unscoped` so a test can build
several practices' rows without entering each scope."""

from datetime import timedelta

import factory
from django.db import connection
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.mfa import current_totp_code as totp_code  # noqa: F401 (for tests)
from accounts.mfa import enroll_totp
from accounts.models import Invitation, Membership, User
from care.models import (
    AgendaItem,
    CareRequest,
    CaseloadAssignment,
    Client,
    TerminationPlan,
    TherapySession,
)
from portal.tenancy.models import Practice

PASSWORD = "correct horse battery staple"

# Query counts: PostgreSQL's backend logs a transaction's BEGIN and COMMIT among the queries,
# SQLite's (the embedded default) does not.
ON_POSTGRES = connection.vendor == "postgresql"
TRANSACTION_QUERIES = 2 if ON_POSTGRES else 0


class UnscopedFactory(DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _get_manager(cls, model_class):
        return model_class.unscoped


class PracticeFactory(DjangoModelFactory):
    class Meta:
        model = Practice

    name = factory.Sequence(lambda n: f"Practice {n}")
    slug = factory.Sequence(lambda n: f"practice-{n}")
    time_zone = "Europe/London"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create:
            from allauth.account.models import EmailAddress

            self.save()
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )


class MembershipFactory(UnscopedFactory):
    """Staff memberships come with an authenticator app (practices require MFA for staff by
    default); `MembershipFactory(mfa=False)` makes staff who have not set one up."""

    class Meta:
        model = Membership
        skip_postgeneration_save = True

    practice = factory.SubFactory(PracticeFactory)
    user = factory.SubFactory(UserFactory)
    email = factory.LazyAttribute(lambda m: m.user.email if m.user else "invited@example.test")
    role = Membership.Role.CLINICIAN
    status = Membership.Status.ACTIVE

    @factory.post_generation
    def mfa(self, create, extracted, **kwargs):
        if create and extracted is not False and self.user_id and self.is_staff_role:
            enroll_totp(self.user)


class ClientFactory(UnscopedFactory):
    class Meta:
        model = Client

    practice = factory.SubFactory(PracticeFactory)
    membership = factory.SubFactory(
        MembershipFactory, practice=factory.SelfAttribute("..practice"), role=Membership.Role.CLIENT
    )
    first_name = factory.LazyAttribute(lambda c: c.membership.user.first_name if c.membership.user else "Alex")
    last_name = factory.LazyAttribute(lambda c: c.membership.user.last_name if c.membership.user else "Doe")


class AssignmentFactory(UnscopedFactory):
    class Meta:
        model = CaseloadAssignment

    practice = factory.SubFactory(PracticeFactory)
    client = factory.SubFactory(ClientFactory, practice=factory.SelfAttribute("..practice"))
    clinician = factory.SubFactory(MembershipFactory, practice=factory.SelfAttribute("..practice"))


class InvitationFactory(UnscopedFactory):
    class Meta:
        model = Invitation

    practice = factory.SubFactory(PracticeFactory)
    membership = factory.SubFactory(
        MembershipFactory,
        practice=factory.SelfAttribute("..practice"),
        user=None,
        email=factory.Sequence(lambda n: f"invitee{n}@example.test"),
        status=Membership.Status.INVITED,
    )
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        invitation = model_class(*args, **kwargs)
        invitation.assign_new_token()
        invitation.save()
        return invitation


# --- sessions, agenda, requests, ending (rows written directly; the services are tested apart) --


class TherapySessionFactory(UnscopedFactory):
    class Meta:
        model = TherapySession

    practice = factory.SubFactory(PracticeFactory)
    client = factory.SubFactory(ClientFactory, practice=factory.SelfAttribute("..practice"))
    clinician = factory.SubFactory(MembershipFactory, practice=factory.SelfAttribute("..practice"))
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    duration_minutes = 50


class AgendaItemFactory(UnscopedFactory):
    class Meta:
        model = AgendaItem

    practice = factory.SubFactory(PracticeFactory)
    client = factory.SubFactory(ClientFactory, practice=factory.SelfAttribute("..practice"))
    created_by = factory.SelfAttribute("client.membership")
    text = factory.Sequence(lambda n: f"Topic {n}")


class CareRequestFactory(UnscopedFactory):
    class Meta:
        model = CareRequest

    practice = factory.SubFactory(PracticeFactory)
    client = factory.SubFactory(ClientFactory, practice=factory.SelfAttribute("..practice"))
    created_by = factory.SelfAttribute("client.membership")
    kind = CareRequest.Kind.SLOWER


class TerminationPlanFactory(UnscopedFactory):
    class Meta:
        model = TerminationPlan

    practice = factory.SubFactory(PracticeFactory)
    client = factory.SubFactory(ClientFactory, practice=factory.SelfAttribute("..practice"))
    created_by = factory.SubFactory(
        MembershipFactory, practice=factory.SelfAttribute("..practice")
    )


# --- treatment plans (written through care.services.plans, so revisions are real) -------------


def make_plan(*, practice, client, clinician, text="Sleep better", shared=True):
    """A plan for `client` with one of everything: problem, goal, objective, intervention, a
    client comment, rating and suggestion. Returns a namespace with each part (and .plan)."""
    from types import SimpleNamespace

    from care.services import plans as plan_services
    from portal.tenancy.context import practice_scope

    staff = {"practice": practice, "actor": clinician}
    with practice_scope(practice):
        plan = plan_services.create_plan(**staff, client=client, strengths=f"{text}: strengths")
        problem = plan_services.add_problem(**staff, plan=plan, version=None, text=f"{text}: problem")
        goal = plan_services.add_goal(**staff, plan=plan, version=None, text=f"{text}: goal", problem=problem)
        objective = plan_services.add_objective(
            **staff, goal=goal, version=None, text=f"{text}: objective", target="3 nights a week"
        )
        intervention = plan_services.add_intervention(
            **staff, goal=goal, version=None, text=f"{text}: intervention", responsible="Both of us"
        )
        parts = SimpleNamespace(
            plan=plan, problem=problem, goal=goal, objective=objective, intervention=intervention
        )
        if shared:
            plan_services.share_plan(**staff, plan=plan)
            me = {"practice": practice, "actor": client.membership}
            parts.comment = plan_services.add_comment(**me, plan=plan, goal=goal, body=f"{text}: comment")
            parts.rating = plan_services.rate_progress(**me, goal=goal, score=4)
            parts.proposal = plan_services.propose(**me, plan=plan, text=f"{text}: suggestion")
        plan.refresh_from_db()
    return parts
