"""What a practice and a client choose about check-ins.

- FeedbackSettings: the practice's defaults (one row per practice, created on the first save;
  until then the defaults below apply) and its quiet hours.
- MeasurementPlan: which instrument one client is asked, how often, how, with which reminders.
- CheckinPreferences: what the client chose (pause reminders, no e-mail).
"""

from datetime import time

from django.db import models
from django.utils import timezone

from accounts.models import Membership
from care.models import Client
from feedback.models.instruments import Instrument
from portal.tenancy.models import PracticeScopedModel


class Cadence(models.TextChoices):
    EVERY_SESSION = "every_session", "After every attended session"
    EVERY_NTH_SESSION = "every_nth_session", "After every Nth attended session"
    EVERY_N_DAYS = "every_n_days", "Every N days"
    WEEKDAYS = "weekdays", "On chosen days of the week"


SESSION_CADENCES = (Cadence.EVERY_SESSION, Cadence.EVERY_NTH_SESSION)


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail a link (it also shows in the portal)"
    PORTAL = "portal", "Portal only"


WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]

# Defaults of a practice that has never saved its settings, and the limits of every setting.
DEFAULT_REMINDER_AFTER_HOURS = 24
DEFAULT_MAX_REMINDERS = 2
DEFAULT_EXPIRY_DAYS = 4
DEFAULT_QUIET_HOURS = (time(21, 0), time(8, 0))
# Shown to a client right after a check-in with a positive safety item (alerts settings page).
DEFAULT_CRISIS_RESOURCES = (
    "If you are in immediate danger or might act on thoughts of harming yourself, call your "
    "local emergency number now (112 in Europe, 999 in the UK, 911 in North America) or go to "
    "the nearest emergency department. You can also call or text a crisis line at any time of "
    "day or night. Your clinician will see your answers, but may not read them straight away."
)
LIMITS = {
    "every": (1, 90),
    "reminder_after_hours": (1, 168),
    "max_reminders": (0, 3),
    "expiry_days": (1, 14),
}


class FeedbackSettings(PracticeScopedModel):
    """A practice's check-in defaults. New measurement plans start from these values."""

    default_cadence = models.CharField(
        max_length=24, choices=Cadence.choices, default=Cadence.EVERY_SESSION
    )
    # N of "every Nth session" and of "every N days".
    default_every = models.PositiveSmallIntegerField(default=1)
    default_weekdays = models.JSONField(default=list, blank=True)  # 0 = Monday
    default_channel = models.CharField(
        max_length=16, choices=Channel.choices, default=Channel.EMAIL
    )
    reminder_after_hours = models.PositiveSmallIntegerField(default=DEFAULT_REMINDER_AFTER_HOURS)
    max_reminders = models.PositiveSmallIntegerField(default=DEFAULT_MAX_REMINDERS)
    expiry_days = models.PositiveSmallIntegerField(default=DEFAULT_EXPIRY_DAYS)
    # In the practice's time zone; no e-mail goes out in between. Both empty: no quiet hours.
    quiet_hours_start = models.TimeField(null=True, blank=True, default=DEFAULT_QUIET_HOURS[0])
    quiet_hours_end = models.TimeField(null=True, blank=True, default=DEFAULT_QUIET_HOURS[1])
    # --- rupture and safety alerts (feedback.services.alerts; edited on the alert settings page)
    rupture_index_below = models.FloatField(default=9.0)  # alliance index below this
    rupture_core_item_at_most = models.PositiveSmallIntegerField(default=6)  # any core item ≤ (0–10)
    rupture_drop_at_least = models.FloatField(default=1.0)  # from the previous check-in
    rupture_baseline_sd = models.FloatField(default=1.0)  # SDs below the running baseline
    rupture_baseline_min_prior = models.PositiveSmallIntegerField(default=3)  # prior check-ins
    safety_escalate_after_hours = models.PositiveSmallIntegerField(default=24)  # then admins
    crisis_resources = models.TextField(blank=True, default=DEFAULT_CRISIS_RESOURCES)
    # --- end rupture and safety alerts
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(PracticeScopedModel.Meta):
        verbose_name_plural = "feedback settings"
        constraints = [
            models.UniqueConstraint(fields=["practice"], name="feedback_settings_one_per_practice")
        ]

    @property
    def has_quiet_hours(self) -> bool:
        return (
            self.quiet_hours_start is not None
            and self.quiet_hours_end is not None
            and self.quiet_hours_start != self.quiet_hours_end
        )


class MeasurementPlan(PracticeScopedModel):
    """One instrument, asked of one client on a schedule. Paused or stopped, it asks nothing new.

    Sessions that ended, and days that began, before `counting_from` never count: a new or
    resumed plan does not catch up on the past.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="measurement_plans")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    cadence = models.CharField(max_length=24, choices=Cadence.choices)
    every = models.PositiveSmallIntegerField(default=1)
    weekdays = models.JSONField(default=list, blank=True)  # 0 = Monday
    channel = models.CharField(max_length=16, choices=Channel.choices)
    reminder_after_hours = models.PositiveSmallIntegerField()
    max_reminders = models.PositiveSmallIntegerField()
    expiry_days = models.PositiveSmallIntegerField()
    starts_on = models.DateField()  # in the practice's time zone; anchors "every N days"
    counting_from = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta(PracticeScopedModel.Meta):
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "client", "instrument"],
                condition=~models.Q(status="stopped"),
                name="measurement_plan_one_open_per_instrument",
            ),
            models.CheckConstraint(
                condition=models.Q(every__gte=1), name="measurement_plan_every_at_least_1"
            ),
        ]
        indexes = [models.Index(fields=["practice", "status"])]

    def __str__(self) -> str:
        return f"{self.instrument} for {self.client}"

    @property
    def is_session_based(self) -> bool:
        return self.cadence in SESSION_CADENCES

    @property
    def cadence_text(self) -> str:
        return cadence_text(self.cadence, self.every, self.weekdays)


def cadence_text(cadence: str, every: int, weekdays) -> str:
    """The schedule in plain words: "after every 2nd attended session", "every Tuesday"."""
    if cadence == Cadence.EVERY_SESSION or (cadence == Cadence.EVERY_NTH_SESSION and every == 1):
        return "after every attended session"
    if cadence == Cadence.EVERY_NTH_SESSION:
        return f"after every {ordinal(every)} attended session"
    if cadence == Cadence.EVERY_N_DAYS:
        return "every day" if every == 1 else f"every {every} days"
    names = [name for number, name in WEEKDAYS if number in set(weekdays or ())]
    if not names:
        return "on no day yet"
    if len(names) == 1:
        return f"every {names[0]}"
    return "every " + ", ".join(names[:-1]) + " and " + names[-1]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class CheckinPreferences(PracticeScopedModel):
    """The client's own choices. No row: the defaults (reminders on, e-mail allowed)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    reminders_paused = models.BooleanField(default=False)
    email_opt_out = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta(PracticeScopedModel.Meta):
        verbose_name_plural = "check-in preferences"
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "client"], name="checkin_preferences_one_per_client"
            )
        ]
