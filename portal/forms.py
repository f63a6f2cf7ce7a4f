"""Portal forms: sign-up (invitation or open), invitations, and a developer's own keys.

Key forms reuse the console's (gateway/console/forms.py) so the two UIs validate the same way.
"""
from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from gateway.console.forms import KeyForm
from gateway.models import User

# An admin may make a link last from an hour-ish (1 day) up to 30 days.
MAX_INVITATION_DAYS = 30


class SignupForm(forms.Form):
    email = forms.EmailField(label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(label="Password", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Password again", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, email=None, **kwargs):
        super().__init__(*args, **kwargs)
        if email:  # an invitation fixes the address
            self.fields["email"].initial = email
            self.fields["email"].disabled = True

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            try:
                validate_password(first, User(email=data.get("email") or ""))
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    days = forms.IntegerField(label="Valid for (days)", min_value=1, max_value=MAX_INVITATION_DAYS, initial=7)


class PortalKeyForm(KeyForm):
    """The console's key form without the team: a developer's key takes the team of their membership."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["team"]
        self.fields["routes"].help_text = "None selected: every route listed in the API catalogue."
