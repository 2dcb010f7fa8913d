"""Template helpers for the caseload and the trend reports."""

from django import template
from django.utils.html import format_html

from feedback.charts import Sparkline

register = template.Library()


@register.simple_tag
def sparkline(values):
    """A small SVG line of alliance scores, labelled for screen readers. Built here rather than
    with an include: the caseload draws one per client, and an include per row is slow."""
    spark = Sparkline(list(values or []))
    if not spark.values:
        return ""
    line = (
        format_html(
            '<polyline points="{}" fill="none" stroke="#1f5f5b" stroke-width="2" '
            'stroke-linejoin="round"/>',
            spark.points,
        )
        if len(spark.values) > 1
        else ""
    )
    n = len(spark.values)
    return format_html(
        '<svg class="sparkline" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        'aria-label="Alliance index, last {n} check-in{s}, oldest first: {text}" focusable="false">'
        '{line}<circle cx="{x}" cy="{y}" r="3" fill="#1f5f5b"/></svg>',
        w=spark.width, h=spark.height, n=n, s="" if n == 1 else "s", text=spark.text, line=line,
        x=spark.last_x, y=spark.last_y,
    )


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
