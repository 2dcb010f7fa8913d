"""Links for pages that list many rows: one reverse() for the page, not one per row."""

from collections.abc import Callable

from django.urls import reverse

_MARKER = 2147483647  # an id no row has; it must match the URL pattern as an id does


def link_by_id(viewname: str, id_kwarg: str, **kwargs) -> Callable[[int], str]:
    """A function from an id to the URL `reverse(viewname, kwargs={**kwargs, id_kwarg: id})`
    would give. {% url %} per row cost about a sixth of the caseload's render time at 200 rows."""
    head, tail = reverse(viewname, kwargs={**kwargs, id_kwarg: _MARKER}).rsplit(str(_MARKER), 1)
    return lambda pk: f"{head}{pk}{tail}"
