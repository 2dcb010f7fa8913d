from django.urls import include, path

from care.routes import plans as plan_routes
from care.routes import sessions as session_routes
from care.views import clients as views
from care.views import deletion as deletion_views

app_name = "care"

urlpatterns = [
    path("", views.client_list, name="clients"),
    path("new/", views.client_new, name="client_new"),
    path("<int:client_id>/", views.client_detail, name="client"),
    path("<int:client_id>/invite/", views.client_invite, name="client_invite"),
    path(
        "<int:client_id>/revoke-invitation/",
        views.client_revoke_invitation,
        name="client_revoke_invitation",
    ),
    path("<int:client_id>/assign/", views.client_assign, name="client_assign"),
    path(
        "<int:client_id>/unassign/<int:membership_id>/",
        views.client_unassign,
        name="client_unassign",
    ),
    path("<int:client_id>/transfer/", views.client_transfer, name="client_transfer"),
    path("<int:client_id>/discharge/", views.client_discharge, name="client_discharge"),
    path("<int:client_id>/delete/", deletion_views.client_delete, name="client_delete"),
]

# Feature pages about one client (plans, sessions, agenda, requests), for staff.
urlpatterns += [
    path("<int:client_id>/", include(plan_routes.staff_patterns)),
    path("<int:client_id>/", include(session_routes.staff_patterns)),
]
