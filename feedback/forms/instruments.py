import re

from django import forms
from django.core.exceptions import ValidationError

from feedback.instruments import validate_version_definition
from feedback.models import Instrument, InstrumentVersion

REVERSE_MARK = re.compile(r"^\(\s*r\s*\)\s*", re.IGNORECASE)
BAND_LINE = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|—|to)\s*(-?\d+(?:\.\d+)?)\s*[:,]?\s+(\S.*?)\s*$"
)
MAX_LINES = 100

# Where a problem with a definition part is shown on the form.
PART_TO_FIELD = {
    "scale_min": "scale_min",
    "scale_max": "scale_max",
    "anchors": "max_label",
    "scoring_rule": "scoring_rule",
    "items": "items",
    "bands": "bands",
    "reliable_change_points": "reliable_change_points",
    "name": "name",
    "kind": "kind",
}


def add_service_error(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form, by field where there is one."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for part, errors in error.error_dict.items():
        field = PART_TO_FIELD.get(part)
        form.add_error(field if field in form.fields else None, errors)


class CustomInstrumentForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    kind = forms.ChoiceField(
        label="What does it measure?",
        choices=Instrument.Kind.choices,
        widget=forms.RadioSelect,
        initial=Instrument.Kind.OUTCOME,
    )
    description = forms.CharField(
        label="Description for staff (optional)",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    licence_note = forms.CharField(
        label="Licence or permission (optional)",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=(
            "If the practice holds a licence for this instrument, note who holds it and its "
            "terms. Rapport does not check licences."
        ),
    )
    instructions = forms.CharField(
        label="What clients read before the questions (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    scale_min = forms.IntegerField(label="Lowest answer", min_value=0, max_value=9, initial=0)
    scale_max = forms.IntegerField(label="Highest answer", min_value=1, max_value=10, initial=4)
    min_label = forms.CharField(
        label="What the lowest answer means (optional)",
        required=False,
        max_length=200,
        help_text="For example: Not at all.",
    )
    max_label = forms.CharField(
        label="What the highest answer means (optional)",
        required=False,
        max_length=200,
        help_text="For example: Completely.",
    )
    items = forms.CharField(
        label="Questions",
        max_length=60_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=(
            "One question per line, in order. Every question is answered on the scale above. "
            "Start a line with (R) to score it in reverse, for a question where a high answer "
            "is a bad sign."
        ),
    )
    scoring_rule = forms.ChoiceField(
        label="How is it scored?",
        choices=InstrumentVersion.ScoringRule.choices,
        widget=forms.RadioSelect,
        initial=InstrumentVersion.ScoringRule.SUM,
    )
    higher_is_better = forms.TypedChoiceField(
        label="What does a higher score mean?",
        choices=[("true", "Things are going better"), ("false", "Things are going worse")],
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
        initial="false",
    )
    bands = forms.CharField(
        label="Score ranges (optional)",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One range per line, lowest first, for example: 0-4 Minimal",
    )
    reliable_change_points = forms.DecimalField(
        label="Reliable change, in points (optional)",
        required=False,
        min_value=0,
        max_digits=6,
        decimal_places=2,
        help_text=(
            "The smallest change in score that is more than measurement noise, as published "
            "for the instrument."
        ),
    )

    @classmethod
    def initial_for(cls, instrument: Instrument, version: InstrumentVersion, items) -> dict:
        anchors = version.anchor_labels
        return {
            "name": instrument.name,
            "kind": instrument.kind,
            "description": instrument.description,
            "licence_note": instrument.licence_note,
            "instructions": version.instructions,
            "scale_min": version.scale_min,
            "scale_max": version.scale_max,
            "min_label": anchors.get(version.scale_min, ""),
            "max_label": anchors.get(version.scale_max, ""),
            "items": "\n".join(
                ("(R) " if item.reverse_keyed else "") + item.text for item in items
            ),
            "scoring_rule": version.scoring_rule,
            "higher_is_better": "true" if version.higher_is_better else "false",
            "bands": "\n".join(
                f"{_number(b['min'])}-{_number(b['max'])} {b['label']}" for b in version.bands
            ),
            "reliable_change_points": version.reliable_change_points,
        }

    def clean_items(self):
        lines = [line.strip() for line in self.cleaned_data["items"].splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            raise ValidationError("Add at least one question.")
        if len(lines) > MAX_LINES:
            raise ValidationError(f"An instrument can have at most {MAX_LINES} questions.")
        items = []
        for number, line in enumerate(lines, start=1):
            reverse = bool(REVERSE_MARK.match(line))
            text = REVERSE_MARK.sub("", line).strip()
            if not text:
                raise ValidationError(f"Line {number} has (R) but no question.")
            if len(text) > 1000:
                raise ValidationError(f"Question {number} is too long: keep it under 1,000 "
                                      "characters.")
            items.append({"key": f"q{number}", "text": text, "reverse_keyed": reverse})
        return items

    def clean_bands(self):
        bands = []
        for number, line in enumerate(self.cleaned_data["bands"].splitlines(), start=1):
            if not line.strip():
                continue
            match = BAND_LINE.match(line)
            if match is None:
                raise ValidationError(
                    f"Line {number} should look like “0-4 Minimal”: two numbers, then a label."
                )
            low, high, label = match.groups()
            bands.append({"min": _parse(low), "max": _parse(high), "label": label[:200],
                          "severity": None})
        return bands

    def clean(self):
        data = super().clean()
        lo, hi = data.get("scale_min"), data.get("scale_max")
        if lo is not None and hi is not None and lo >= hi:
            self.add_error("scale_max", "The highest answer must be above the lowest.")
        if self.errors:  # the definition can only be checked whole once the parts are valid
            return data
        anchors = []
        if data["min_label"].strip():
            anchors.append({"value": data["scale_min"], "label": data["min_label"].strip()})
        if data["max_label"].strip():
            anchors.append({"value": data["scale_max"], "label": data["max_label"].strip()})
        points = data.get("reliable_change_points")
        self.definition = {
            "instructions": data["instructions"].strip(),
            "scale_min": data["scale_min"],
            "scale_max": data["scale_max"],
            "anchors": anchors,
            "scoring_rule": data["scoring_rule"],
            "higher_is_better": data["higher_is_better"],
            "bands": data["bands"],
            "reliable_change_points": float(points) if points is not None else None,
            "subscales": [],
            "items": data["items"],
        }
        try:
            validate_version_definition(self.definition)
        except ValidationError as error:
            add_service_error(self, error)
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "kind": data["kind"],
            "description": data["description"],
            "licence_note": data["licence_note"],
            "version": self.definition,
        }


def _parse(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _number(value) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
