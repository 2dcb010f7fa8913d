"""A completed check-in (one client answering one instrument version) and its answers.

Scores are computed once, when the response is submitted, and stored with it; the answers are
kept so that any score can be recomputed. A response entered in error is kept but never counts.
"""

from django.db import models
from django.utils import timezone

from accounts.models import Membership
from care.models import Client, TherapySession
from feedback import scoring
from feedback.models.instruments import InstrumentItem, InstrumentVersion
from portal.tenancy.models import PracticeScopedManager, PracticeScopedModel


class CheckinResponseQuerySet(models.QuerySet):
    def counted(self):
        """Responses that count: not marked as entered in error."""
        return self.filter(entered_in_error_at__isnull=True)


class CheckinResponse(PracticeScopedModel):
    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail link"
        PORTAL = "portal", "Portal"
        IN_SESSION = "in_session", "In session"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="checkin_responses")
    # RESTRICT: a version with responses cannot be deleted on its own (a practice can).
    instrument_version = models.ForeignKey(
        InstrumentVersion, on_delete=models.RESTRICT, related_name="responses"
    )
    session = models.ForeignKey(
        TherapySession,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="checkin_responses",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # The clinician the check-in is about (the session's, else the invitation's): the unit of
    # the per-therapist reports.
    clinician = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    respondent = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(default=timezone.now)

    total = models.FloatField(null=True, blank=True)
    mean = models.FloatField(null=True, blank=True)
    index = models.FloatField(null=True, blank=True)  # 0–10, for versions scored as an index
    band_label = models.CharField(max_length=200, blank=True)
    band_severity = models.PositiveSmallIntegerField(null=True, blank=True)
    subscale_scores = models.JSONField(default=dict, blank=True)
    safety_item_positive = models.BooleanField(default=False)  # e.g. PHQ-9 item 9 above 0
    rupture_reported = models.BooleanField(default=False)  # "a moment that didn't feel right"

    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_reason = models.TextField(blank=True)
    entered_in_error_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = PracticeScopedManager.from_queryset(CheckinResponseQuerySet)()

    class Meta(PracticeScopedModel.Meta):
        ordering = ["submitted_at", "id"]
        indexes = [
            models.Index(fields=["practice", "client", "submitted_at"]),
            models.Index(fields=["practice", "instrument_version"]),
            models.Index(fields=["practice", "clinician", "submitted_at"]),
        ]

    def __str__(self) -> str:
        return f"Check-in {self.pk} ({self.submitted_at:%Y-%m-%d})"

    @property
    def is_entered_in_error(self) -> bool:
        return self.entered_in_error_at is not None

    @property
    def score(self) -> float | None:
        """The score the version's rule reports: the total, the mean or the 0–10 index."""
        rule = self.instrument_version.scoring_rule
        return {scoring.SUM: self.total, scoring.MEAN: self.mean, scoring.INDEX: self.index}[rule]


class Answer(PracticeScopedModel):
    response = models.ForeignKey(CheckinResponse, on_delete=models.CASCADE, related_name="answers")
    item = models.ForeignKey(InstrumentItem, on_delete=models.RESTRICT, related_name="answers")
    value = models.SmallIntegerField(null=True, blank=True)  # scale answers; yes/no as 1/0
    text = models.TextField(blank=True)

    class Meta(PracticeScopedModel.Meta):
        ordering = ["response", "item__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "response", "item"], name="answer_one_per_item"
            )
        ]
