"""The client's own data, joined to the "my" namespace under /p/<slug>/my/ by care/my_urls.py."""

from django.urls import path

from portal.exports import views

urlpatterns = [
    path("data/", views.my_data, name="data"),
    path("data.json", views.my_data_json, name="data_json"),
]
