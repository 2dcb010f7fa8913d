from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.staff_list, name="staff"),
    path("invite/", views.invite_staff, name="invite_staff"),
    path("security/", views.staff_security, name="security"),
    path("<int:membership_id>/deactivate/", views.deactivate_staff, name="deactivate"),
    path("<int:membership_id>/reactivate/", views.reactivate_staff, name="reactivate"),
    path("<int:membership_id>/resend/", views.resend_staff_invitation, name="resend_invitation"),
    path("<int:membership_id>/revoke/", views.revoke_staff_invitation, name="revoke_invitation"),
]
