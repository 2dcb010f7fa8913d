"""URL patterns for sessions, the agenda, requests and the ending plan: staff ones are mounted under
/p/<slug>/clients/<client_id>/ (namespace "care"), client ones under /p/<slug>/my/ (namespace
"my"). Views are shared where the page is."""

from django.urls import path

from accounts.models import Membership
from care.views import requests as request_views
from care.views import sessions as views
from portal.tenancy.access import require_role

staff = require_role(Membership.Role.ADMIN, Membership.Role.CLINICIAN)
client = require_role(Membership.Role.CLIENT)

staff_patterns = [
    path("sessions/", staff(views.sessions_page), name="sessions"),
    path("sessions/new/", staff(views.session_new), name="session_new"),
    path("sessions/<int:session_id>/", staff(views.session_edit), name="session_edit"),
    path("sessions/<int:session_id>/status/", staff(views.session_status), name="session_status"),
    path("agenda/<int:item_id>/", staff(views.agenda_handle), name="agenda_handle"),
    path("requests/", staff(request_views.requests_page), name="requests"),
    path(
        "requests/<int:request_id>/respond/",
        staff(request_views.request_respond),
        name="request_respond",
    ),
    path("ending/", staff(request_views.ending_page), name="ending"),
    path("ending/open/", staff(request_views.ending_open), name="ending_open"),
    path("ending/<int:termination_id>/", staff(request_views.ending_update), name="ending_update"),
    path(
        "ending/<int:termination_id>/close/", staff(request_views.ending_close), name="ending_close"
    ),
    path(
        "ending/<int:termination_id>/comment/",
        staff(request_views.ending_comment),
        name="ending_comment",
    ),
]

client_patterns = [
    path("sessions/", client(views.sessions_page), name="sessions"),
    path("agenda/", client(views.agenda_add), name="agenda_add"),
    path("agenda/<int:item_id>/withdraw/", client(views.agenda_withdraw), name="agenda_withdraw"),
    path("requests/", client(request_views.requests_page), name="requests"),
    path("requests/new/", client(request_views.request_new), name="request_new"),
    path(
        "requests/<int:request_id>/withdraw/",
        client(request_views.request_withdraw),
        name="request_withdraw",
    ),
    path("ending/", client(request_views.ending_page), name="ending"),
    path(
        "ending/<int:termination_id>/comment/",
        client(request_views.ending_comment),
        name="ending_comment",
    ),
]
