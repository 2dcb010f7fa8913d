import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

from portal.tenancy.models import PracticeScopedModel


class EmailUserManager(UserManager):
    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in. Not tenant-owned: one account may belong to several practices.

    `is_staff` here means Django-admin operator, not practice staff (that is Membership.role).
    """

    username = None
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = EmailUserManager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.get_full_name() or self.email


class Membership(PracticeScopedModel):
    """A person's place in one practice: their role, and whether they may enter.

    An invited membership has no user yet, only the address the invitation went to.
    """

    class Role(models.TextChoices):
        ADMIN = "admin", "Practice admin"
        CLINICIAN = "clinician", "Clinician"
        CLIENT = "client", "Client"

    class Status(models.TextChoices):
        INVITED = "invited", "Invited"
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Deactivated"

    STAFF_ROLES = (Role.ADMIN, Role.CLINICIAN)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="memberships",
    )
    email = models.EmailField("e-mail address")
    role = models.CharField(max_length=16, choices=Role.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "user"],
                condition=models.Q(user__isnull=False),
                name="membership_one_per_user_per_practice",
            ),
            models.UniqueConstraint(
                "practice", Lower("email"), name="membership_one_per_email_per_practice"
            ),
        ]
        indexes = [models.Index(fields=["practice", "role", "status"])]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.get_role_display()})"

    @property
    def is_staff_role(self) -> bool:
        return self.role in self.STAFF_ROLES

    @property
    def display_name(self) -> str:
        if self.user_id is not None:
            return self.user.get_full_name() or self.user.email
        return self.email


class Invitation(PracticeScopedModel):
    """A single-use, expiring link that activates one membership.

    Only a hash of the token is stored. The token itself is an HMAC of a stored nonce under the
    SECRET_KEY, so a Celery retry or the sweeper can rebuild the same link without the database
    ever holding it (rotating SECRET_KEY invalidates open invitations).
    """

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="invitations")
    nonce = models.CharField(max_length=64, default="", editable=False)
    token_hash = models.CharField(max_length=64, db_index=True, editable=False)
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    send_failed_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for acceptance"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "token_hash"], name="invitation_token_unique")
        ]
        indexes = [models.Index(fields=["sent_at", "created_at"])]

    @staticmethod
    def token_for(nonce: str) -> str:
        return salted_hmac("rapport.invitation", nonce, algorithm="sha256").hexdigest()

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def assign_new_token(self) -> None:
        self.nonce = secrets.token_hex(16)
        self.token_hash = self.hash_token(self.token_for(self.nonce))

    @property
    def token(self) -> str:
        return self.token_for(self.nonce)

    @property
    def state(self) -> str:
        if self.accepted_at:
            return self.State.ACCEPTED
        if self.revoked_at:
            return self.State.REVOKED
        if self.expires_at <= timezone.now():
            return self.State.EXPIRED
        return self.State.PENDING

    def get_state_display(self) -> str:
        return self.State(self.state).label
