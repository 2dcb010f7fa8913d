"""Everything under /p/<practice_slug>/: the middleware has resolved the practice already."""

from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.practice_home, name="practice_home"),
    path("staff/", include("accounts.urls")),
    path("clients/", include("care.urls")),
    path("my/", include("care.my_urls")),
    path("", include("feedback.urls")),  # instruments/ and checkins/
    path("exports/", include("portal.exports.urls")),  # practice exports, admins only
    path("audit/", include("portal.audit.urls")),  # the audit log, admins only
]
