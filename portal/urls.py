from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from accounts.views import accept_invitation
from portal import views

# Operators sign in to the admin through allauth too (password, then their second factor).
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("practices/new/", views.new_practice, name="new_practice"),
    path("invite/<str:token>/", accept_invitation, name="accept_invitation"),
    path("c/<str:token>/", include("feedback.link_urls")),  # a check-in link, no sign-in
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("p/<slug:practice_slug>/", include("portal.tenant_urls")),
]
