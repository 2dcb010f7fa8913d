from care.selectors.notifications import unread_count


def unread_notifications(request):
    """The unread count for the header badge, on practice pages only (one small query)."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    count = getattr(request, "unread_notifications", None)  # set by a page that counted them
    if count is None:
        count = unread_count(membership)
    return {"unread_notifications": count}
