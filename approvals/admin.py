"""Admin: which tool calls need approval, each MCP server client's delivery mode, and the
requests (read only; the auth_req_id and notification token are never shown)."""

from django.contrib import admin

from approvals.models import ApprovalClient, ApprovalRequest, ToolApprovalRule
from authserver.admin_base import OperatorAdmin


@admin.register(ToolApprovalRule)
class ToolApprovalRuleAdmin(OperatorAdmin):
    list_display = ("resource", "tool", "rule")
    list_filter = ("resource",)


@admin.register(ApprovalClient)
class ApprovalClientAdmin(OperatorAdmin):
    list_display = ("client", "delivery_mode", "notification_endpoint")
    filter_horizontal = ("resources",)


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(OperatorAdmin):
    list_display = ("tool", "user", "client", "resource", "status", "created_at", "expires_at")
    list_filter = ("status",)
    fields = (
        "status",
        "user",
        "client",
        "resource",
        "tool",
        "summary",
        "binding_message",
        "arguments",
        "arguments_digest",
        "credential_id",
        "created_at",
        "shown_at",
        "decided_at",
        "used_at",
        "expires_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
