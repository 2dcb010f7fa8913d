"""Template helpers for treatment plan pages and the plan panels on the client pages."""

from django import template
from django.urls import reverse

from accounts.models import Membership
from care.selectors.plans import plan_panel as plan_panel_data

register = template.Library()


@register.simple_tag(takes_context=True)
def plan_url(context, name, **kwargs):
    """A plan URL in the viewer's namespace: care:<name> with the client id for staff,
    my:<name> for the client. Needs `request` and `client` in the context."""
    request = context["request"]
    kwargs["practice_slug"] = request.practice.slug
    if request.membership.role == Membership.Role.CLIENT:
        return reverse(f"my:{name}", kwargs=kwargs)
    kwargs["client_id"] = context["client"].pk
    return reverse(f"care:{name}", kwargs=kwargs)


@register.inclusion_tag("care/plans/panel.html", takes_context=True)
def plan_panel(context, client, unread_areas=None):
    """The plan's headline on the staff client page and on the client's home page.
    `unread_areas`: the viewer's unread counts for this client, when the page has them."""
    request = context["request"]
    viewer = request.membership
    unread = unread_areas.get("plan", 0) if unread_areas is not None else None
    data = None
    if client is not None:
        data = plan_panel_data(client=client, viewer=viewer, unread=unread)
    return {
        "request": request,
        "client": client,
        "panel": data,
        "is_client": viewer.role == Membership.Role.CLIENT,
    }


@register.filter
def signed_name(membership, viewer):
    """'you' for the viewer, otherwise the person's name."""
    if membership is None:
        return "someone who has left the practice"
    if viewer is not None and membership.pk == viewer.pk:
        return "you"
    return membership.display_name
