from django import forms

from portal.exports.models import ExportJob


class StartExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=ExportJob.Format.choices, widget=forms.RadioSelect, initial=ExportJob.Format.CSV,
        label="Format",
    )
