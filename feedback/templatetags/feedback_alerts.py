"""Alert and history panels for pages of other apps: the staff client page (alerts on top,
charts), the clinician's home (safety banner, via attention_for in portal.views), and the
check-in confirmation page (crisis resources)."""

from django import template

from feedback import scoring
from feedback.models import InstrumentItem
from feedback.selectors import alerts as alert_selectors
from feedback.selectors.history import client_history
from feedback.services.alerts import alert_settings
from portal.links import link_by_id

register = template.Library()


@register.inclusion_tag("feedback/alerts/_client_panel.html", takes_context=True)
def alerts_panel(context, client):
    """Unresolved alerts (safety first) with their actions, and the latest closed ones."""
    return {"request": context["request"], "client": client, **alert_selectors.client_alerts(client)}


@register.inclusion_tag("feedback/alerts/_charts_panel.html", takes_context=True)
def charts_panel(context, client):
    """Alliance and outcome charts with reliable-change and rupture markers, as tables too."""
    history = client_history(client)
    error_url = link_by_id(
        "feedback:response_error", "response_id",
        practice_slug=context["request"].practice.slug, client_id=client.pk,
    )
    for series in history["series"]:
        for point in series.points:
            point.error_url = error_url(point.response.pk)
    return {"request": context["request"], "client": client, **history}


@register.inclusion_tag("feedback/alerts/_crisis_resources.html")
def crisis_resources(practice, response, items=None):
    """After a check-in: the practice's crisis resources, prominent when the safety question was
    answered above 0, quieter after any questionnaire that has a safety question. `items`: the
    version's items when the page has them already (saves a query)."""
    if response is None or practice is None:
        return {"show": False}
    positive = response.safety_item_positive
    if positive:
        has_safety_item = True
    elif items and all(item.version_id == response.instrument_version_id for item in items):
        has_safety_item = any(item.flag == scoring.SAFETY for item in items)
    else:
        has_safety_item = InstrumentItem.unscoped.filter(
            practice_id=practice.pk, version_id=response.instrument_version_id,
            flag=scoring.SAFETY,
        ).exists()
    if not has_safety_item:
        return {"show": False}  # the text is only read when it is shown
    return {
        "show": True,
        "urgent": positive,
        "text": alert_settings(practice).crisis_resources,
    }


@register.filter
def duration(delta) -> str:
    """A timedelta in words: "45 minutes", "3 hours", "2 days"."""
    if delta is None:
        return ""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    days = hours // 24
    return f"{days} day{'s' if days != 1 else ''}"


@register.filter
def iso_date(value):
    """An ISO 8601 string (as stored in Alert.reasons) as a datetime, for |date."""
    from django.utils.dateparse import parse_datetime

    return parse_datetime(value) if isinstance(value, str) else value
