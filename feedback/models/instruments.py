"""Instruments as data: an instrument, its numbered versions and each version's items.

A version that has responses is immutable (`is_locked`): changing the questions or the scoring
makes a new version, and the answers already given keep pointing at the version they answered.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from accounts.models import Membership
from feedback import scoring
from portal.tenancy.models import PracticeScopedModel

LOCKED_MESSAGE = (
    "Version {number} of this instrument already has answers, so it can't be changed. "
    "Save your changes as a new version instead."
)


class Instrument(PracticeScopedModel):
    class Kind(models.TextChoices):
        ALLIANCE = "alliance", "Alliance: how the work together feels"
        OUTCOME = "outcome", "Outcome: symptoms and wellbeing"

    class Source(models.TextChoices):
        STANDARD = "standard", "Comes with Rapport"
        CUSTOM = "custom", "Added by the practice"

    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CUSTOM)
    is_enabled = models.BooleanField(default=True)
    licence_note = models.TextField(blank=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(PracticeScopedModel.Meta):
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "key"], name="instrument_key_per_practice")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_standard(self) -> bool:
        return self.source == self.Source.STANDARD


class InstrumentVersion(PracticeScopedModel):
    class ScoringRule(models.TextChoices):
        SUM = scoring.SUM, "Add up the answers (a total)"
        MEAN = scoring.MEAN, "Average of the answers"
        INDEX = scoring.INDEX, "Average of the answers, shown on a 0–10 scale"

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # For shipped instruments, the revision of the definition in code this version came from.
    standard_revision = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    instructions = models.TextField(blank=True)
    scale_min = models.SmallIntegerField()
    scale_max = models.SmallIntegerField()
    anchors = models.JSONField(default=list, blank=True)  # [{"value": 0, "label": "Not at all"}]
    scoring_rule = models.CharField(max_length=16, choices=ScoringRule.choices)
    higher_is_better = models.BooleanField(default=True)
    bands = models.JSONField(default=list, blank=True)  # [{"min", "max", "label", "severity"}]
    reliable_change_points = models.FloatField(null=True, blank=True)
    reliable_change_sd = models.FloatField(null=True, blank=True)
    reliable_change_reliability = models.FloatField(null=True, blank=True)
    subscales = models.JSONField(default=list, blank=True)  # [{"key", "label"}]

    class Meta(PracticeScopedModel.Meta):
        ordering = ["instrument", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "instrument", "number"], name="instrument_version_number"
            ),
            models.CheckConstraint(
                condition=models.Q(scale_min__lt=models.F("scale_max")),
                name="instrument_version_scale_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} v{self.number}"

    @property
    def is_locked(self) -> bool:
        """A version with responses (entered in error or not) can never change again."""
        if self.pk is None:
            return False
        return self.responses(manager="unscoped").exists()

    def check_editable(self) -> None:
        if self.is_locked:
            raise ValidationError(LOCKED_MESSAGE.format(number=self.number), code="locked")

    def save(self, *args, **kwargs):
        # A backstop for the services: nothing may rewrite a version that has been answered.
        if self.pk is not None:
            self.check_editable()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self.check_editable()
        return super().delete(*args, **kwargs)

    def definition(self, items=None) -> dict:
        """This version in the definition format of feedback.instruments (for copying, forms
        and scoring). `items` may be passed when already loaded, in position order."""
        items = list(self.items.all()) if items is None else items
        return {
            "instructions": self.instructions,
            "scale_min": self.scale_min,
            "scale_max": self.scale_max,
            "anchors": list(self.anchors),
            "scoring_rule": self.scoring_rule,
            "higher_is_better": self.higher_is_better,
            "bands": list(self.bands),
            "reliable_change_points": self.reliable_change_points,
            "reliable_change_sd": self.reliable_change_sd,
            "reliable_change_reliability": self.reliable_change_reliability,
            "subscales": list(self.subscales),
            "items": [item.definition() for item in items],
        }

    def spec(self, items=None) -> scoring.InstrumentSpec:
        return scoring.InstrumentSpec.from_definition(self.definition(items))

    @property
    def anchor_labels(self) -> dict[int, str]:
        return {a["value"]: a["label"] for a in self.anchors}


class InstrumentItem(PracticeScopedModel):
    class ResponseKind(models.TextChoices):
        SCALE = scoring.SCALE, "A number on the scale"
        YES_NO = scoring.YES_NO, "Yes or no"
        TEXT = scoring.TEXT, "Written answer"

    class Flag(models.TextChoices):
        NONE = "", "None"
        SAFETY = scoring.SAFETY, "Safety: any answer above the lowest alerts the clinician"
        RUPTURE = scoring.RUPTURE, "Rupture: a yes alerts the clinician"

    version = models.ForeignKey(InstrumentVersion, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(max_length=40)
    position = models.PositiveSmallIntegerField()
    text = models.TextField()
    response_kind = models.CharField(
        max_length=16, choices=ResponseKind.choices, default=ResponseKind.SCALE
    )
    required = models.BooleanField(default=True)
    scored = models.BooleanField(default=True)
    reverse_keyed = models.BooleanField(default=False)
    subscale = models.SlugField(max_length=40, blank=True)
    is_core = models.BooleanField(default=False)
    flag = models.CharField(max_length=16, choices=Flag.choices, blank=True, default="")
    options = models.JSONField(default=list, blank=True)  # this item's own answers, if any

    class Meta(PracticeScopedModel.Meta):
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "version", "key"], name="instrument_item_key"
            ),
            models.UniqueConstraint(
                fields=["practice", "version", "position"], name="instrument_item_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.text}"

    def save(self, *args, **kwargs):
        self.version.check_editable()  # a backstop, as for the version itself
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self.version.check_editable()
        return super().delete(*args, **kwargs)

    @property
    def counts(self) -> bool:
        return self.scored and self.response_kind == self.ResponseKind.SCALE

    def definition(self) -> dict:
        return {
            "key": self.key,
            "text": self.text,
            "response_kind": self.response_kind,
            "required": self.required,
            "scored": self.scored,
            "reverse_keyed": self.reverse_keyed,
            "subscale": self.subscale,
            "is_core": self.is_core,
            "flag": self.flag,
            "options": list(self.options),
        }

