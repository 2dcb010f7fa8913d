"""Role checks for views under /p/<slug>/. Refusals are the same 404 as "does not exist"."""

from functools import wraps

from django.http import Http404


def require_role(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.membership is None or request.membership.role not in roles:
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
