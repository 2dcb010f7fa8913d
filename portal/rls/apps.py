from django.apps import AppConfig


class RlsConfig(AppConfig):
    name = "portal.rls"
    label = "rls"
    verbose_name = "Row-level security"
