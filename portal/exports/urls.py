from django.urls import path

from portal.exports import views

app_name = "exports"

urlpatterns = [
    path("", views.export_list, name="list"),
    path("<int:job_id>/download/", views.export_download, name="download"),
]
