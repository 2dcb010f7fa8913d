"""Template helpers for the sessions panels."""

from django import template

from care.selectors.sessions import client_home_panel

register = template.Library()


@register.inclusion_tag("care/sessions/_client_panel.html", takes_context=True)
def sessions_home_panel(context, client):
    """The client's next session, agenda and requests on their home page (reads only)."""
    request = context["request"]
    data = client_home_panel(client, request.membership) if client is not None else {}
    return {"request": request, "client": client, **data}
