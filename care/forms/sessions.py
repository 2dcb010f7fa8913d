"""Forms for sessions, the agenda, requests and the ending plan. They check shape and turn input
into values (a local date and time into an aware datetime); the rules live in the services."""

import datetime as dt
import zoneinfo

from django import forms

from accounts.models import Membership
from care.forms.clients import ClinicianChoiceField
from care.models import AgendaItem, CareRequest, TerminationPlan, TherapySession
from care.services.requests import FINAL_SESSIONS_MAX
from care.services.sessions import DURATION_MAX, DURATION_MIN, TEXT_MAX_CHARS

TOO_LONG = "Please keep this to %(limit_value)d characters or fewer (it has %(show_value)d)."


def text_field(
    label: str, *, required: bool, rows: int = 4, required_message: str = "", help_text=""
):
    return forms.CharField(
        label=label,
        required=required,
        max_length=TEXT_MAX_CHARS,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
        error_messages={
            "required": required_message or "Please write a few words.",
            "max_length": TOO_LONG,
        },
    )


class SessionForm(forms.Form):
    """Date and time are entered in the practice's time zone, and become one aware `starts_at`."""

    date = forms.DateField(
        label="Date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": "Enter the date of the session.",
            "invalid": "Enter the date as year-month-day, for example 2026-05-14.",
        },
    )
    time = forms.TimeField(
        label="Start time",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={
            "required": "Enter the time the session starts.",
            "invalid": "Enter the time as hours and minutes, for example 18:00.",
        },
    )
    duration_minutes = forms.IntegerField(
        label="Length in minutes",
        initial=50,
        min_value=DURATION_MIN,
        max_value=DURATION_MAX,
        error_messages={
            "required": "Enter how long the session lasts, in minutes.",
            "invalid": "Enter the length in whole minutes, for example 50.",
            "min_value": f"A session lasts at least {DURATION_MIN} minutes.",
            "max_value": f"A session lasts at most {DURATION_MAX} minutes (8 hours).",
        },
    )
    modality = forms.ChoiceField(
        label="Format",
        choices=TherapySession.Modality.choices,
        initial=TherapySession.Modality.IN_PERSON,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose in person or video.",
            "invalid_choice": "Choose in person or video.",
        },
    )
    status = forms.ChoiceField(
        label="Status",
        choices=TherapySession.Status.choices,
        initial=TherapySession.Status.SCHEDULED,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a status.",
            "invalid_choice": "Choose a status from the list.",
        },
    )
    clinician = ClinicianChoiceField(
        queryset=None,
        label="Clinician",
        empty_label=None,
        error_messages={"invalid_choice": "Choose a clinician from the client's care team."},
    )

    def __init__(self, *args, time_zone: str, actor: Membership, team=(), session=None, **kwargs):
        if session is not None and "initial" not in kwargs:
            local = session.starts_at.astimezone(zoneinfo.ZoneInfo(time_zone))
            kwargs["initial"] = {
                "date": local.date(),
                "time": local.time().replace(tzinfo=None),
                "duration_minutes": session.duration_minutes,
                "modality": session.modality,
                "status": session.status,
                "clinician": session.clinician_id,
            }
        super().__init__(*args, **kwargs)
        self.time_zone = zoneinfo.ZoneInfo(time_zone)
        if actor.role != Membership.Role.ADMIN:
            # A clinician books their own sessions (an existing session keeps its clinician).
            del self.fields["clinician"]
            return
        ids = [m.pk for m in team]
        if session is not None:
            ids.append(session.clinician_id)
        field = self.fields["clinician"]
        field.queryset = Membership.objects.select_related("user").filter(pk__in=ids)
        if session is None and not self.is_bound:
            field.initial = actor.pk if actor.pk in ids else (ids[0] if ids else None)

    def clean(self):
        cleaned = super().clean()
        date, time = cleaned.get("date"), cleaned.get("time")
        if date is None or time is None:
            return cleaned
        naive = dt.datetime.combine(date, time.replace(second=0, microsecond=0, tzinfo=None))
        starts_at = naive.replace(tzinfo=self.time_zone)
        # A time the clocks skip (spring forward) does not exist: say so rather than guess.
        if starts_at.astimezone(dt.UTC).astimezone(self.time_zone).replace(tzinfo=None) != naive:
            self.add_error(
                "time",
                "That time doesn't exist on that day because the clocks change. "
                "Choose another time.",
            )
            return cleaned
        cleaned["starts_at"] = starts_at
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        kwargs = {
            "starts_at": data["starts_at"],
            "duration_minutes": data["duration_minutes"],
            "modality": data["modality"],
            "status": data["status"],
        }
        if "clinician" in self.fields:
            kwargs["clinician"] = data["clinician"]
        return kwargs


class SessionStatusForm(forms.Form):
    status = forms.ChoiceField(choices=TherapySession.Status.choices)


class AgendaItemForm(forms.Form):
    kind = forms.ChoiceField(
        label="Is this something to talk about, or to leave for now?",
        choices=AgendaItem.Kind.choices,
        initial=AgendaItem.Kind.DISCUSS,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose one of the two options.",
            "invalid_choice": "Choose one of the two options.",
        },
    )
    text = text_field(
        "In your own words",
        required=True,
        rows=3,
        required_message="Write a few words about the topic, in your own words.",
    )


class AgendaHandleForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            (AgendaItem.Status.ADDRESSED, "Talked about"),
            (AgendaItem.Status.CARRIED_OVER, "Carry over"),
        ]
    )
    # The session the item was on when the page was shown ("" for none).
    seen_session = forms.IntegerField(required=False)


class CareRequestForm(forms.Form):
    kind = forms.ChoiceField(
        label="What would you like?",
        choices=CareRequest.Kind.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose what you would like.",
            "invalid_choice": "Choose what you would like from the list.",
        },
    )
    reason = text_field(
        "Anything you'd like to add? (optional)",
        required=False,
        help_text=(
            "For example, what prompted this. You can also talk about it in your next session."
        ),
    )


class RespondForm(forms.Form):
    response = text_field(
        "Your reply", required=True, required_message="Write your reply to the client."
    )


class TerminationPlanForm(forms.Form):
    final_sessions = forms.IntegerField(
        label="Sessions still to come before we finish",
        min_value=0,
        max_value=FINAL_SESSIONS_MAX,
        initial=2,
        error_messages={
            "required": "Enter how many sessions are left (0 if this was the last).",
            "invalid": "Enter a whole number of sessions.",
            "min_value": f"Enter a number of sessions from 0 to {FINAL_SESSIONS_MAX}.",
            "max_value": f"Enter a number of sessions from 0 to {FINAL_SESSIONS_MAX}.",
        },
    )
    after_care = text_field(
        "What happens after",
        required=False,
        help_text=(
            "For example: how to get back in touch, a check-in later on, "
            "what to do if things get harder."
        ),
    )
    referrals = text_field("Referrals and other support (optional)", required=False, rows=3)

    @classmethod
    def for_plan(cls, plan: TerminationPlan, *args, **kwargs):
        initial = {f: getattr(plan, f) for f in ("final_sessions", "after_care", "referrals")}
        return cls(*args, initial=initial, **kwargs)


class CloseTerminationForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (TerminationPlan.Status.COMPLETED, "Completed"),
            (TerminationPlan.Status.CANCELLED, "Cancelled"),
        ]
    )


class CommentForm(forms.Form):
    body = text_field(
        "Your comment", required=True, rows=3, required_message="Write your comment first."
    )
