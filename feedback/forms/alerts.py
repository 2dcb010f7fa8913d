"""Forms for alerts: acknowledging, recording a repair, dismissing, marking a check-in entered
in error, and the practice's alert settings. The services check everything again."""

from django import forms

from feedback.services.alerts import ALERT_SETTINGS_LIMITS, NOTE_MAX_LENGTH


def _text(label: str, help_text: str = "", rows: int = 3) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=NOTE_MAX_LENGTH,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
        error_messages={"required": "Please fill this in."},
    )


class AcknowledgeForm(forms.Form):
    note = _text(
        "How will you bring this into the room?",
        "For example: “Ask at the start of next session how last week felt.” Only the care team sees this.",
    )


class RepairForm(forms.Form):
    note = _text("How was it repaired?", "A sentence is enough. Only the care team sees this.")


class DismissForm(forms.Form):
    reason = _text("Why does this need no action?", "A reason is required and is kept with the alert.")


class EnteredInErrorForm(forms.Form):
    reason = _text(
        "Why was this check-in entered in error?",
        "The check-in is kept and listed, but no longer counts in charts, alerts or reports.",
    )


def _limit(name):
    lo, hi, _ = ALERT_SETTINGS_LIMITS[name]
    return {"min_value": lo, "max_value": hi}


class AlertSettingsForm(forms.Form):
    rupture_index_below = forms.FloatField(
        label="Alliance index below", **_limit("rupture_index_below"),
        help_text=(
            "A check-in's 0–10 alliance index under this is a possible rupture "
            "(default 9.0: a “good” 8 is a real signal)."
        ),
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )
    rupture_core_item_at_most = forms.IntegerField(
        label="Any core question at or below", **_limit("rupture_core_item_at_most"),
        help_text="On the 0–10 scale (default 6).",
    )
    rupture_drop_at_least = forms.FloatField(
        label="A drop from the previous check-in of at least", **_limit("rupture_drop_at_least"),
        help_text="In index points (default 1.0).", widget=forms.NumberInput(attrs={"step": "0.1"}),
    )
    rupture_baseline_sd = forms.FloatField(
        label="Standard deviations below the client's usual level", **_limit("rupture_baseline_sd"),
        help_text="Compared with the mean of all their earlier check-ins (default 1.0).",
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )
    rupture_baseline_min_prior = forms.IntegerField(
        label="…once there are at least this many earlier check-ins", **_limit("rupture_baseline_min_prior"),
        help_text="Default 3.",
    )
    safety_escalate_after_hours = forms.IntegerField(
        label="Tell the practice admins after (hours)", **_limit("safety_escalate_after_hours"),
        help_text=(
            "A safety alert must be acknowledged the same day; if it is still open after this "
            "many hours, every practice admin is told (default 24)."
        ),
    )
    crisis_resources = forms.CharField(
        label="Crisis resources shown to clients", max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=(
            "Shown right after a check-in in which a client reports thoughts of self-harm (and, "
            "more quietly, after every questionnaire with a safety question). Give local numbers."
        ),
    )

    @classmethod
    def initial_for(cls, row) -> dict:
        return {name: getattr(row, name) for name in cls.base_fields}
