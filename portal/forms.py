import zoneinfo

from django import forms
from django.utils.text import slugify

from portal.tenancy.models import validate_time_zone

TIME_ZONES = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})


class PracticeForm(forms.Form):
    name = forms.CharField(label="Practice name", max_length=200)
    slug = forms.SlugField(
        label="Web address",
        max_length=60,
        required=False,
        help_text="Letters, numbers and hyphens, used in your practice's links. "
        "Leave empty to make one from the name.",
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=[(tz, tz.replace("_", " ")) for tz in TIME_ZONES],
        initial="Europe/London",
        validators=[validate_time_zone],
    )

    def clean(self):
        data = super().clean()
        if data.get("name") and not data.get("slug"):
            data["slug"] = slugify(data["name"])[:60].strip("-")
            if not data["slug"]:
                self.add_error("slug", "Please choose a web address using letters or numbers.")
        return data
