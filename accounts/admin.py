from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts import services
from accounts.models import Membership, User
from portal.tenancy.admin import CrossPracticeAdmin


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Name", {"fields": ["first_name", "last_name"]}),
        ("Operator access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            services.end_sessions_on_commit(obj)  # deactivated: signed out everywhere


@admin.register(Membership)
class MembershipAdmin(CrossPracticeAdmin):
    list_display = ["email", "practice", "role", "status", "created_at"]
    list_filter = ["role", "status"]
    search_fields = ["email", "practice__slug"]
    readonly_fields = ["practice", "user", "email", "role", "created_at"]
    fields = ["practice", "user", "email", "role", "status"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "status" in form.changed_data and obj.status != Membership.Status.ACTIVE and obj.user_id:
            services.end_sessions_on_commit(obj.user)
