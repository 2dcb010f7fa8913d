import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models

from portal.tenancy.context import current_practice, require_practice


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError("Choose a time zone from the list.")


class Practice(models.Model):
    """The tenant: one therapy practice. Every tenant-owned row points at one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    is_active = models.BooleanField(default=True)
    # Staff (admins and clinicians) must set up a second factor before any practice page.
    require_staff_mfa = models.BooleanField(
        "require two-factor authentication for staff", default=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PracticeScopedManager(models.Manager):
    """Fail-closed: rows of the practice in scope, and an error when there is none."""

    def get_queryset(self):
        return super().get_queryset().filter(practice_id=require_practice().pk)


class PracticeScopedModel(models.Model):
    """Base for every tenant table.

    `objects` only ever sees the current practice. `unscoped` is the one, greppable escape hatch
    for deliberate cross-practice work (beat fan-out, invitation links, operator tools).
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")

    objects = PracticeScopedManager()
    unscoped = models.Manager()

    class Meta:
        abstract = True
        default_manager_name = "objects"
        base_manager_name = "unscoped"

    def save(self, *args, **kwargs):
        scope = current_practice()
        if scope is not None and self.practice_id != scope.pk:
            raise ValueError(
                f"Refusing to save a {type(self).__name__} of practice {self.practice_id} "
                f"inside the scope of practice {scope.pk}."
            )
        super().save(*args, **kwargs)
