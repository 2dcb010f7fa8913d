"""/c/<token>/: a check-in link, answered without signing in (outside /p/<slug>/, because the
link itself names the practice). Included from portal/urls.py."""

from django.urls import path

from feedback.views.checkins import checkin_link
from portal.ratelimit import rate_limited

urlpatterns = [path("", rate_limited("checkin_link")(checkin_link), name="checkin_link")]
