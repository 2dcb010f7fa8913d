"""Check-in panels for pages of other apps: the staff client page and the client's home."""

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.formats import date_format

from feedback.selectors import checkins as selectors

register = template.Library()


@register.inclusion_tag("feedback/checkins/_staff_panel.html", takes_context=True)
def checkins_panel(context, client):
    """Plans, open check-ins and delivery problems, with "Check in now" (staff pages only)."""
    return {"request": context["request"], "client": client, **selectors.staff_panel(client)}


@register.inclusion_tag("feedback/checkins/_my_panel.html", takes_context=True)
def my_checkins_panel(context, client):
    """The client's open check-ins on their home page (nothing when there are none)."""
    open_checkins = selectors.open_checkins_of(client) if client is not None else []
    return {"request": context["request"], "open_checkins": open_checkins}


@register.filter
def until(moment) -> str:
    """When a check-in closes, in words, in the current time zone: "Friday 27 November, 18:00",
    or "the end of Sunday 29 November" for midnight (date-based check-ins close then)."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    if local.hour == 0 and local.minute == 0:
        return "the end of " + date_format(local - timedelta(minutes=1), "l j F")
    return date_format(local, "l j F, H:i")
