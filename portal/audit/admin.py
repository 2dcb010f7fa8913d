from django.contrib import admin

from portal.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Operator view across practices: read-only, like the table itself."""

    list_display = ["created_at", "practice", "actor_email", "action", "target_type", "target_id",
                    "ip"]
    list_filter = ["action"]
    search_fields = ["actor_email", "target_type"]
    date_hierarchy = "created_at"
    list_select_related = ["practice"]

    def get_queryset(self, request):
        return AuditEvent.unscoped.all()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
