from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

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


@admin.register(Membership)
class MembershipAdmin(CrossPracticeAdmin):
    list_display = ["email", "practice", "role", "status", "created_at"]
    list_filter = ["role", "status"]
    search_fields = ["email", "practice__slug"]
    readonly_fields = ["practice", "user", "email", "role", "created_at"]
    fields = ["practice", "user", "email", "role", "status"]

    def has_add_permission(self, request):
        return False
