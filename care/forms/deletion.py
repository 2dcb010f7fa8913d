from django import forms


class DeleteClientForm(forms.Form):
    typed_name = forms.CharField(
        label="Type the client's full name to confirm", max_length=250,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
