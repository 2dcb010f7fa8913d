from django import forms

from care.models import PlanGoal, PlanProblem

TEXT_MAX = 2000
COMMENT_MAX = 5000


def _area(rows=3, **attrs):
    return forms.Textarea(attrs={"rows": rows, **attrs})


class VersionForm(forms.Form):
    """Every edit carries the plan version the person saw (the service compares it)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class PlanDetailsForm(VersionForm):
    strengths = forms.CharField(
        label="Strengths",
        required=False,
        max_length=5000,
        widget=_area(4),
        help_text="What the client brings: skills, supports, things that already help.",
    )
    discharge_criteria = forms.CharField(
        label="How we'll know we're done",
        required=False,
        max_length=5000,
        widget=_area(4),
    )
    review_date = forms.DateField(
        label="Review date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="When you will look at the plan together again.",
        error_messages={"invalid": "Enter a date, for example 2026-03-31."},
    )


class ProblemForm(VersionForm):
    text = forms.CharField(label="Problem or need", max_length=TEXT_MAX, widget=_area(3))


class ProblemChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        text = " ".join(obj.text.split())
        return text if len(text) <= 80 else text[:79] + "…"


class GoalForm(VersionForm):
    text = forms.CharField(
        label="Goal",
        max_length=TEXT_MAX,
        widget=_area(3),
        help_text="In the client's own words where you can.",
    )
    problem = ProblemChoiceField(
        queryset=None,
        required=False,
        label="Which problem or need it addresses (optional)",
        empty_label="None in particular",
    )

    def __init__(self, *args, plan, with_status=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["problem"].queryset = PlanProblem.objects.filter(
            plan=plan, removed_at__isnull=True
        ).order_by("position", "id")
        if with_status:
            self.fields["status"] = forms.ChoiceField(
                label="Status",
                choices=[
                    (PlanGoal.Status.ACTIVE, "Still working on it"),
                    (PlanGoal.Status.ACHIEVED, "Achieved"),
                ],
                widget=forms.RadioSelect,
                initial=PlanGoal.Status.ACTIVE,
            )


class ObjectiveForm(VersionForm):
    text = forms.CharField(
        label="Objective",
        max_length=TEXT_MAX,
        widget=_area(2),
        help_text="A step you can both notice, e.g. “Walk to the corner shop on my own”.",
    )
    target = forms.CharField(
        label="Target (optional)",
        max_length=200,
        required=False,
        help_text="How much or how often, e.g. “3 times a week”.",
    )
    target_date = forms.DateField(
        label="Target date (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date, for example 2026-03-31."},
    )


class InterventionForm(VersionForm):
    text = forms.CharField(label="What we will do", max_length=TEXT_MAX, widget=_area(2))
    responsible = forms.CharField(
        label="Who does it (optional)",
        max_length=120,
        required=False,
        help_text="For example: the client, the clinician, or both of us.",
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Your comment",
        max_length=COMMENT_MAX,
        widget=_area(3),
        error_messages={
            "required": "Please write something before sending.",
            "max_length": "Please keep comments under %(limit_value)d characters "
            "(this one has %(show_value)d).",
        },
    )


class ProposalForm(forms.Form):
    text = forms.CharField(
        label="Your suggestion",
        max_length=TEXT_MAX,
        widget=_area(4),
        error_messages={"required": "Please write your suggestion before sending."},
    )


class AcceptForm(VersionForm):
    response = forms.CharField(
        label="A note for the client (optional)",
        max_length=TEXT_MAX,
        required=False,
        widget=_area(2),
    )


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label="Reason (the client will read this)",
        max_length=TEXT_MAX,
        widget=_area(3),
        error_messages={"required": "Please give the client a short reason."},
    )


SCORE_MESSAGE = "Choose a number from 0 to 10."


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(
        label="How far along does this goal feel today?",
        choices=[(str(n), str(n)) for n in range(11)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": SCORE_MESSAGE, "invalid_choice": SCORE_MESSAGE},
    )


class SignForm(forms.Form):
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    typed_name = forms.CharField(
        label="Type your full name to agree",
        max_length=200,
        error_messages={"required": "Please type your full name to agree."},
    )


class CloseForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, close this plan",
        error_messages={"required": "Tick the box to confirm. Nothing was changed."},
    )
