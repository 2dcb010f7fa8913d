from django import forms
from django.contrib.auth import password_validation

from accounts.models import Membership


class StaffInviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(
        label="Role",
        choices=[(r.value, r.label) for r in Membership.STAFF_ROLES],
        initial=Membership.Role.CLINICIAN,
        widget=forms.RadioSelect,
    )


class StaffMfaForm(forms.Form):
    require_staff_mfa = forms.BooleanField(
        label="Staff must use two-factor authentication",
        required=False,
        help_text="Admins and clinicians set up an authenticator app or a security key before "
        "they can open any page of the practice. Strongly recommended: staff see clinical records.",
    )


class NewAccountForm(forms.Form):
    """Create an account for an invited address (the link proves the address)."""

    first_name = forms.CharField(label="First name", max_length=150)
    last_name = forms.CharField(label="Last name", max_length=150)
    password1 = forms.CharField(
        label="Choose a password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Type the password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords are not the same.")
        elif p1:
            from accounts.models import User

            probe = User(email=self.email, first_name=data.get("first_name", ""),
                         last_name=data.get("last_name", ""))
            try:
                password_validation.validate_password(p1, user=probe)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data
