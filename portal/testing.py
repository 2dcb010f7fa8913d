"""Factories shared by every app's tests. They write through `unscoped` so a test can build
several practices' rows without entering each scope."""

from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import Invitation, Membership, User
from care.models import CaseloadAssignment, Client
from portal.tenancy.models import Practice

PASSWORD = "correct horse battery staple"


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
    class Meta:
        model = Membership

    practice = factory.SubFactory(PracticeFactory)
    user = factory.SubFactory(UserFactory)
    email = factory.LazyAttribute(lambda m: m.user.email if m.user else "invited@example.test")
    role = Membership.Role.CLINICIAN
    status = Membership.Status.ACTIVE


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
