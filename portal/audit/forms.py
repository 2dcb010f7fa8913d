from datetime import datetime, time, timedelta

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone

from portal.audit.models import AuditEvent


DATE = forms.DateInput(attrs={"type": "date"})


class EventFilterForm(forms.Form):
    """The viewer's filters (GET). Dates are days in the practice's time zone, both inclusive."""

    actor = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Who")
    action = forms.ChoiceField(required=False, label="What")
    target_type = forms.CharField(
        required=False,
        max_length=100,
        label="Record type",
        help_text="For example care.client or care.treatmentplan.",
        validators=[RegexValidator(r"^[a-z0-9_.]*$", "Use a record type such as care.client.")],
    )
    since = forms.DateField(required=False, label="From", widget=DATE)
    until = forms.DateField(required=False, label="To", widget=DATE)

    def __init__(self, *args, actor_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "Anyone"), *actor_choices]
        self.fields["action"].choices = [("", "Any action"), *AuditEvent.Action.choices]

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def filters(self) -> dict | None:
        """Keyword arguments for selectors.events_for_practice; None when the input is invalid
        (then nothing is listed, rather than everything)."""
        if not self.is_bound:
            return {}
        if not self.is_valid():
            return None
        data = self.cleaned_data
        zone = timezone.get_current_timezone()
        day_start = lambda day: datetime.combine(day, time.min, tzinfo=zone)  # noqa: E731
        return {
            "actor_id": data.get("actor"),
            "action": data.get("action") or "",
            "target_type": data.get("target_type") or "",
            "since": day_start(data["since"]) if data.get("since") else None,
            "until": day_start(data["until"] + timedelta(days=1)) if data.get("until") else None,
        }

    def used(self) -> list[str]:
        """The names of the filters in use (for the audit event's detail: names, no values)."""
        if not self.is_bound or not self.is_valid():
            return []
        return sorted(name for name, value in self.cleaned_data.items() if value)
