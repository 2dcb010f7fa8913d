"""The client's check-in pages, joined to the "my" namespace under /p/<slug>/my/ by
care/my_urls.py (no client id in these URLs: a client only ever sees their own)."""

from django.urls import path

from feedback.views import checkins as views
from feedback.views import plans as plan_views

urlpatterns = [
    path("checkins/", views.my_checkins, name="checkins"),
    path(
        "checkins/preferences/",
        plan_views.my_checkin_preferences,
        name="checkin_preferences",
    ),
    path("checkins/<int:checkin_id>/", views.my_checkin, name="checkin"),
]
