from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from accounts.sessions import on_signed_in

        user_logged_in.connect(on_signed_in, dispatch_uid="accounts.sessions.on_signed_in")
