"""Staff pages of the feedback app (namespace "feedback"), mounted at /p/<slug>/:
instruments (admins) under instruments/, check-in set-up and "check in now" under checkins/."""

from django.urls import include, path

from feedback.views import checkins as checkin_views
from feedback.views import instruments as views
from feedback.views import plans as plan_views

app_name = "feedback"

instrument_patterns = [
    path("", views.instrument_list, name="instruments"),
    path("new/", views.instrument_new, name="instrument_new"),
    path("<int:instrument_id>/", views.instrument_detail, name="instrument"),
    path("<int:instrument_id>/edit/", views.instrument_edit, name="instrument_edit"),
    path("<int:instrument_id>/enabled/", views.instrument_toggle, name="instrument_toggle"),
]

checkin_patterns = [
    path("settings/", plan_views.checkin_settings, name="checkin_settings"),
    path("clients/<int:client_id>/", plan_views.client_checkins, name="client_checkins"),
    path("clients/<int:client_id>/plans/new/", plan_views.plan_new, name="plan_new"),
    path(
        "clients/<int:client_id>/plans/<int:measurement_plan_id>/",
        plan_views.plan_edit,
        name="plan_edit",
    ),
    path(
        "clients/<int:client_id>/plans/<int:measurement_plan_id>/status/",
        plan_views.plan_status,
        name="plan_status",
    ),
    path("clients/<int:client_id>/now/", checkin_views.checkin_now, name="checkin_now"),
    path(
        "clients/<int:client_id>/now/<int:checkin_id>/",
        checkin_views.checkin_qr,
        name="checkin_qr",
    ),
]

# --- alerts (feedback.views.alerts): rupture/safety alerts, entered in error, alert settings
from feedback.views import alerts as alert_views  # noqa: E402

alert_patterns = [
    path("settings/", alert_views.alert_settings, name="alert_settings"),
    path(
        "clients/<int:client_id>/<int:alert_id>/acknowledge/",
        alert_views.alert_acknowledge,
        name="alert_acknowledge",
    ),
    path("clients/<int:client_id>/<int:alert_id>/repair/", alert_views.alert_repair, name="alert_repair"),
    path("clients/<int:client_id>/<int:alert_id>/dismiss/", alert_views.alert_dismiss, name="alert_dismiss"),
    path(
        "clients/<int:client_id>/responses/<int:response_id>/error/",
        alert_views.response_error,
        name="response_error",
    ),
]
# --- end alerts

# --- trend reports (feedback.views.reports)
from feedback.views import reports as report_views  # noqa: E402

report_patterns = [
    path("mine/", report_views.my_trends, name="my_trends"),
    path("practice/", report_views.practice_report, name="practice_report"),
    path("practice/export/", report_views.practice_report_csv, name="practice_report_csv"),
    path(
        "clinicians/<int:membership_id>/",
        report_views.clinician_trends,
        name="clinician_trends",
    ),
]

urlpatterns = [
    path("reports/", include(report_patterns)),
    path("instruments/", include(instrument_patterns)),
    path("checkins/", include(checkin_patterns)),
    path("alerts/", include(alert_patterns)),  # alerts
]
