from care.selectors.notifications import unread_count


def unread_notifications(request):
    """The unread count for the header badge, on practice pages only (one small query)."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {"unread_notifications": unread_count(membership)}
