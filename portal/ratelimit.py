"""Rate limits for pages opened without signing in (invitation and check-in links).

allauth limits its own forms (ACCOUNT_RATE_LIMITS); this is the same idea for Rapport's links:
a fixed window per client IP address, counted in the cache (Redis in production, so every web
process shares the count). A limited request is answered with a calm 429 page before the view
runs, so it changes nothing: the link still works once the window has passed.
"""

import time
from functools import wraps

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render

UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_rate(rate: str) -> tuple[int, int]:
    """'30/10m' -> (30 requests, 600 seconds)."""
    amount, _, period = rate.partition("/")
    count = period[:-1] or "1"
    return int(amount), int(count) * UNITS[period[-1]]


def allow(request, action: str) -> bool:
    """Count this request against `action`'s limit; False once the limit is used up."""
    limit, window = parse_rate(settings.RAPPORT_RATE_LIMITS[action])
    ip = get_adapter().get_client_ip(request)
    bucket = int(time.time() // window)
    key = f"rapport:rl:{action}:{ip}:{bucket}"
    # Counting first and creating the key only when missing saves a round trip to the cache
    # on every request but a window's first.
    try:
        count = cache.incr(key)
    except ValueError:  # the window's first request
        if cache.add(key, 1, timeout=window + 5):
            count = 1
        else:  # another request created it a moment ago
            try:
                count = cache.incr(key)
            except ValueError:  # and it expired since
                cache.set(key, 1, timeout=window + 5)
                count = 1
    return count <= limit


def too_many_requests(request):
    return render(request, "429.html", status=429)


def rate_limited(action: str):
    """View decorator: at most RAPPORT_RATE_LIMITS[action] requests per IP address."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not allow(request, action):
                return too_many_requests(request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
