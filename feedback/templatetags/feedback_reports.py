"""Template helpers for the caseload and the trend reports."""

import functools

from django import template
from django.template.defaultfilters import floatformat
from django.utils import formats, translation
from django.utils.safestring import mark_safe

from feedback.charts import Sparkline

register = template.Library()


@register.simple_tag
def sparkline(values):
    """A small SVG line of alliance scores, labelled for screen readers. Built here rather than
    with an include: the caseload draws one per client, and an include per row is slow. Only
    numbers go into the markup, so it is joined as a string rather than escaped piece by piece
    with format_html (which cost as much again as the geometry)."""
    spark = Sparkline(list(values or []))
    if not spark.values:
        return ""
    line = (
        f'<polyline points="{spark.points}" fill="none" stroke="#1f5f5b" stroke-width="2" '
        'stroke-linejoin="round"/>'
        if len(spark.values) > 1
        else ""
    )
    n = len(spark.values)
    w, h = spark.width, spark.height
    # Safe: every interpolated value is a number Sparkline formatted (points, "{:.1f}" text).
    return mark_safe(  # noqa: S308
        f'<svg class="sparkline" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="Alliance index, last {n} check-in{"" if n == 1 else "s"}, oldest first: '
        f'{spark.text}" focusable="false">{line}'
        f'<circle cx="{spark.last_x}" cy="{spark.last_y}" r="3" fill="#1f5f5b"/></svg>'
    )


# Cached versions of `date` and `floatformat` for pages that show one per row (the caseload,
# a client's history): Django's formatting costs some 30 µs a call, and rows repeat days and
# values. Each shows exactly what the filter it stands for shows.


@register.filter(expects_localtime=True)
def day(value, format="j M"):
    """`value|date:format` for a format of the day alone ("j M", "j M Y"), remembered per day."""
    if value in (None, ""):
        return ""
    return _day(value.date(), format, translation.get_language())


@register.filter(expects_localtime=True)
def day_time(value, format="D j M"):
    """`value|date:"<format>, H:i"` ("Tue 3 Nov, 14:30"): the day part remembered per day, the
    time written directly (digits in every language)."""
    if value in (None, ""):
        return ""
    return f"{_day(value.date(), format, translation.get_language())}, {value:%H:%M}"


@functools.lru_cache(maxsize=1024)
def _day(day, format, language):  # language: the names of days and months depend on it
    return formats.date_format(day, format)


@register.filter(is_safe=True)
def rounded(value, arg=-1):
    """`value|floatformat:arg`, remembered per value (scores take few distinct values)."""
    return _rounded(value, str(arg), translation.get_language())


@functools.lru_cache(maxsize=4096)
def _rounded(value, arg, language):  # language: the decimal separator depends on it
    return floatformat(value, arg)


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
