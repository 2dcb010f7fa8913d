from django.contrib import admin

from portal.tenancy.models import Practice


class CrossPracticeAdmin(admin.ModelAdmin):
    """Operator view of a tenant table: deliberately across practices, read-mostly."""

    def get_queryset(self, request):
        return self.model.unscoped.select_related("practice")


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "is_active", "require_staff_mfa", "created_at"]
    list_filter = ["is_active", "require_staff_mfa"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
