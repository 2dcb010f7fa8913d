"""Check-in invitations (one per schedule occurrence, or one "check in now" in session) and the
e-mails sent about them (one per invitation per kind: the invitation, then each reminder).

The link in an invitation is single-use and expires. Only a hash of its token is stored; the
token itself is an HMAC of a stored nonce under the SECRET_KEY, so a retry, a reminder or the
sweeper can rebuild the same link without the database ever holding it.
"""

import base64
import hashlib
import secrets

from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import Membership
from care.models import Client, TherapySession
from feedback.models.instruments import InstrumentVersion
from feedback.models.plans import MeasurementPlan
from feedback.models.responses import CheckinResponse
from portal.tenancy.models import PracticeScopedModel

# Link tokens are lowercase base32 (no 0/1/8/9 to confuse with letters). An e-mailed link
# carries 130 bits; the short in-session link, typed on a phone within the hour, 50 bits.
LINK_TOKEN_LENGTH = 26
SHORT_TOKEN_LENGTH = 10


def normalize_token(token: str) -> str:
    """What a visitor typed or clicked, as stored: lowercase, without spaces or dashes."""
    return "".join(token.split()).replace("-", "").lower()


class CheckinInvitation(PracticeScopedModel):
    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        PORTAL = "portal", "Portal"
        IN_SESSION = "in_session", "In session"

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for answers"
        COMPLETED = "completed", "Answered"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="checkin_invitations")
    plan = models.ForeignKey(
        MeasurementPlan, null=True, blank=True, on_delete=models.PROTECT, related_name="invitations"
    )
    instrument_version = models.ForeignKey(
        InstrumentVersion, on_delete=models.RESTRICT, related_name="invitations"
    )
    session = models.ForeignKey(
        TherapySession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Whose first name the check-in page shows ("Sam would like to know ...").
    clinician = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The schedule occurrence this answers: "session:<id>", "date:2026-11-26", "now:<nonce>".
    occurrence_key = models.CharField(max_length=64)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    nonce = models.CharField(max_length=64, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)  # unique: Meta
    due_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)  # expired or cancelled
    response = models.ForeignKey(
        CheckinResponse,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations",
    )

    class Meta(PracticeScopedModel.Meta):
        ordering = ["-due_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "plan", "occurrence_key"], name="checkin_one_per_occurrence"
            ),
            # The hash first: a link is looked up by its hash alone, before the practice is
            # known, so this one index serves that too (no plain and LIKE index beside it).
            models.UniqueConstraint(fields=["token_hash", "practice"], name="checkin_token_unique"),
            models.CheckConstraint(
                condition=~models.Q(status="completed") | models.Q(completed_at__isnull=False),
                name="checkin_completed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["practice", "client", "status"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"Check-in invitation {self.pk} ({self.occurrence_key})"

    # --- the link ---------------------------------------------------------------------------

    @property
    def token_length(self) -> int:
        return SHORT_TOKEN_LENGTH if self.channel == self.Channel.IN_SESSION else LINK_TOKEN_LENGTH

    @staticmethod
    def token_for(nonce: str, length: int = LINK_TOKEN_LENGTH) -> str:
        digest = salted_hmac("rapport.checkin", nonce, algorithm="sha256").digest()
        return base64.b32encode(digest).decode().lower()[:length]

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(normalize_token(token).encode()).hexdigest()

    def assign_new_token(self) -> None:
        self.nonce = secrets.token_hex(16)
        self.token_hash = self.hash_token(self.token_for(self.nonce, self.token_length))

    @property
    def token(self) -> str:
        return self.token_for(self.nonce, self.token_length)

    @property
    def short_code(self) -> str:
        """The token in groups of five, for reading aloud or typing: "k7qm2-xhp9r"."""
        token = self.token
        return "-".join(token[i : i + 5] for i in range(0, len(token), 5))

    # --- state --------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The status, with an open invitation past its expiry counted as expired already
        (the expiry job writes that down a little later)."""
        if self.status == self.Status.OPEN and self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.status

    def get_state_display(self) -> str:
        return self.Status(self.state).label

    @property
    def is_open(self) -> bool:
        return self.state == self.Status.OPEN


class CheckinEmail(PracticeScopedModel):
    """One e-mail about one invitation: the invitation itself, or reminder 1, 2, ...

    The unique kind per invitation is the idempotency key: the row is claimed under a lock
    before the send and marked sent in the same transaction, so a redelivered task, a swept
    one or a second worker never sends it twice.
    """

    INVITE = "invite"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Could not be delivered"
        SKIPPED = "skipped", "Not sent"

    invitation = models.ForeignKey(
        CheckinInvitation, on_delete=models.CASCADE, related_name="emails"
    )
    kind = models.CharField(max_length=16)  # "invite", "reminder-1", "reminder-2", ...
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    not_before = models.DateTimeField()  # the end of quiet hours, when it was due in them
    dispatched_at = models.DateTimeField(null=True, blank=True)  # a send task was queued
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # Why it failed or was not sent, for staff; never the address or anything clinical.
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(PracticeScopedModel.Meta):
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "invitation", "kind"], name="checkin_email_once_per_kind"
            )
        ]
        indexes = [models.Index(fields=["status", "not_before"])]

    def __str__(self) -> str:
        return f"{self.kind} e-mail for invitation {self.invitation_id}"

    @staticmethod
    def reminder_kind(number: int) -> str:
        return f"reminder-{number}"

    @property
    def reminder_number(self) -> int:
        """0 for the invitation itself, n for reminder n."""
        if self.kind == self.INVITE:
            return 0
        return int(self.kind.rpartition("-")[2])

    @property
    def kind_display(self) -> str:
        return "Invitation" if self.kind == self.INVITE else f"Reminder {self.reminder_number}"
