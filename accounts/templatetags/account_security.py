from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def session_policy() -> dict:
    """The configured session limits, for pages that explain them."""
    return {
        "idle_staff": settings.RAPPORT_IDLE_TIMEOUT_STAFF_MINUTES,
        "idle_client": settings.RAPPORT_IDLE_TIMEOUT_CLIENT_MINUTES,
        "max_age": settings.RAPPORT_SESSION_MAX_AGE_HOURS,
    }
