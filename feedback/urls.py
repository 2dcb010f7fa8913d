from django.urls import path

from feedback import views

app_name = "feedback"

urlpatterns = [
    path("", views.instrument_list, name="instruments"),
    path("new/", views.instrument_new, name="instrument_new"),
    path("<int:instrument_id>/", views.instrument_detail, name="instrument"),
    path("<int:instrument_id>/edit/", views.instrument_edit, name="instrument_edit"),
    path("<int:instrument_id>/enabled/", views.instrument_toggle, name="instrument_toggle"),
]
