from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Self-signup stays open: a new account can create its own practice."""

    def is_open_for_signup(self, request):
        return True
