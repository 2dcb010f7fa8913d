from django import forms

from accounts.models import Membership
from care.models import Client
from care.selectors.clients import assignable_clinicians


class ClientForm(forms.Form):
    first_name = forms.CharField(label="First name", max_length=100)
    last_name = forms.CharField(label="Last name", max_length=100)
    email = forms.EmailField(label="E-mail address")
    phone = forms.CharField(label="Phone (optional)", max_length=40, required=False)
    preferred_contact = forms.ChoiceField(
        label="Preferred way to be contacted",
        choices=Client.PreferredContact.choices,
        initial=Client.PreferredContact.EMAIL,
        widget=forms.RadioSelect,
    )
    send_invitation = forms.BooleanField(
        label="E-mail an invitation to the client portal now",
        required=False,
        initial=True,
    )


class ClinicianChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.display_name

    def list_only(self, members) -> None:
        """Offer these already-loaded members (the queryset's rows) without querying again;
        a submitted choice is still checked against the queryset."""
        self.choices = [(m.pk, self.label_from_instance(m)) for m in members]


class AssignForm(forms.Form):
    clinician = ClinicianChoiceField(queryset=None, label="Clinician", empty_label=None)

    def __init__(self, *args, exclude_ids=(), listed=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = assignable_clinicians().exclude(pk__in=exclude_ids)
        if listed is not None:
            self.fields["clinician"].list_only(listed)


class TransferForm(forms.Form):
    from_clinician = ClinicianChoiceField(queryset=None, label="From", empty_label=None)
    to_clinician = ClinicianChoiceField(queryset=None, label="To", empty_label=None)

    def __init__(self, *args, current_team=(), listed=None, **kwargs):
        super().__init__(*args, **kwargs)
        team_ids = [m.pk for m in current_team]
        # A deactivated clinician's clients must still be transferable, so no status filter here.
        self.fields["from_clinician"].queryset = Membership.objects.select_related("user").filter(
            pk__in=team_ids
        )
        self.fields["to_clinician"].queryset = assignable_clinicians().exclude(pk__in=team_ids)
        if listed is not None:  # `listed`: the other clinicians, as the page loaded them
            self.fields["from_clinician"].list_only(current_team)
            self.fields["to_clinician"].list_only(listed)
