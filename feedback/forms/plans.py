"""Forms for check-in settings: practice defaults, a client's measurement plan, the client's own
preferences, and "check in now". They only shape input; the services check it."""

from django import forms

from feedback.models import Cadence, Channel, Instrument, MeasurementPlan
from feedback.models.plans import LIMITS, WEEKDAYS

CADENCE_HELP = {
    Cadence.EVERY_SESSION: "Once the session is over and marked attended.",
    Cadence.EVERY_NTH_SESSION: "For example every 2nd or 4th attended session: set N below.",
    Cadence.EVERY_N_DAYS: "Counted from the first day: set N below.",
    Cadence.WEEKDAYS: "Choose the days below.",
}


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    input_type = "time"


def _number(label: str, key: str, help_text: str = "") -> forms.IntegerField:
    lo, hi = LIMITS[key]
    return forms.IntegerField(
        label=label,
        min_value=lo,
        max_value=hi,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


def schedule_fields(prefix: str = "") -> dict[str, forms.Field]:
    """The fields a plan and the practice defaults share (`prefix` "default_" for the latter)."""
    return {
        f"{prefix}cadence": forms.ChoiceField(
            label="How often",
            choices=Cadence.choices,
            widget=forms.RadioSelect,
        ),
        f"{prefix}every": _number(
            "N", "every",
            "For “every Nth attended session” and “every N days”. With 1, every one.",
        ),
        f"{prefix}weekdays": forms.TypedMultipleChoiceField(
            label="Days of the week",
            choices=WEEKDAYS,
            coerce=int,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text="For “on chosen days of the week”.",
        ),
        f"{prefix}channel": forms.ChoiceField(
            label="How the client is asked", choices=Channel.choices, widget=forms.RadioSelect
        ),
        "reminder_after_hours": _number(
            "Remind after (hours)", "reminder_after_hours",
            "If the check-in is still open this long after the last e-mail.",
        ),
        "max_reminders": _number("Reminders, at most", "max_reminders", "0 sends none."),
        "expiry_days": _number(
            "Open for (days)", "expiry_days", "After that the link stops working."
        ),
    }


class PlanForm(forms.Form):
    """A client's measurement plan. `instrument` only when it is new."""

    def __init__(self, *args, new: bool, client=None, **kwargs):
        super().__init__(*args, **kwargs)
        if new:
            # Instruments that are on, less those the client already has an open plan for.
            taken = MeasurementPlan.objects.filter(client=client).exclude(
                status=MeasurementPlan.Status.STOPPED
            ).values("instrument_id")
            choices = Instrument.objects.filter(is_enabled=True).exclude(pk__in=taken)
            self.fields["instrument"] = forms.ModelChoiceField(
                label="What to ask",
                queryset=choices.order_by("kind", "-source", "name"),  # alliance first
                empty_label=None,
                widget=forms.RadioSelect,
                initial=choices.filter(key="session-checkin").values_list("pk", flat=True).first(),
            )
        self.fields.update(schedule_fields())
        self.fields["starts_on"] = forms.DateField(
            label="First day",
            widget=DateInput,
            help_text="Nothing before this day counts.",
        )
        order = ["instrument", "cadence", "every", "weekdays", "starts_on", "channel",
                 "reminder_after_hours", "max_reminders", "expiry_days"]
        self.order_fields([name for name in order if name in self.fields])

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("instrument", None)
        return data


class SettingsForm(forms.Form):
    """The practice's defaults for new plans, and its quiet hours."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(schedule_fields("default_"))
        self.fields["quiet_hours_start"] = forms.TimeField(
            label="Quiet hours start", required=False, widget=TimeInput,
        )
        self.fields["quiet_hours_end"] = forms.TimeField(
            label="Quiet hours end", required=False, widget=TimeInput,
        )

    @classmethod
    def initial_for(cls, row) -> dict:
        return {
            "default_cadence": row.default_cadence,
            "default_every": row.default_every,
            "default_weekdays": list(row.default_weekdays),
            "default_channel": row.default_channel,
            "reminder_after_hours": row.reminder_after_hours,
            "max_reminders": row.max_reminders,
            "expiry_days": row.expiry_days,
            "quiet_hours_start": row.quiet_hours_start,
            "quiet_hours_end": row.quiet_hours_end,
        }


class PreferencesForm(forms.Form):
    reminders_paused = forms.BooleanField(
        label="Pause reminders", required=False,
        help_text="You still get the first e-mail for each check-in, but no reminders.",
    )
    email_opt_out = forms.BooleanField(
        label="No check-in e-mails", required=False,
        help_text="Check-ins then only wait for you on the Check-ins page here.",
    )


class CheckinNowForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instrument"] = forms.ModelChoiceField(
            label="What to ask",
            queryset=Instrument.objects.filter(is_enabled=True).order_by("kind", "-source", "name"),
            empty_label=None,
            widget=forms.RadioSelect,
            initial=Instrument.objects.filter(key="session-checkin", is_enabled=True)
            .values_list("pk", flat=True).first(),
        )


def add_service_error(form: forms.Form, error) -> None:
    """Show a service's ValidationError on the form: by field where the form has one."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)
