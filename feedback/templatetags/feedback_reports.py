"""Template helpers for the caseload and the trend reports."""

from django import template

from feedback.charts import Sparkline

register = template.Library()


@register.filter
def sparkline(values):
    return Sparkline(list(values or []))


@register.filter
def percent(value, digits=0):
    """A share (0–1) as a percentage: 0.4567 → "46%"."""
    if value is None:
        return ""
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def hours_as_days(hours):
    """A duration in hours, in the unit a person reads easily."""
    if hours is None:
        return "—"
    if hours < 48:
        return f"{hours:.0f} hour{'s' if round(hours) != 1 else ''}"
    return f"{hours / 24:.1f} days"
