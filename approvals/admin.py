"""Admin: which tool calls need approval, each MCP server client's delivery mode, and the
requests (read only; the auth_req_id and notification token are never shown)."""

from django.contrib import admin
from django.db import transaction

from approvals.models import ApprovalClient, ApprovalPolicy, ApprovalRequest, ToolApprovalRule
from authserver import audit
from authserver.admin_base import OperatorAdmin


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(OperatorAdmin):
    """One row: whether approving needs a passkey (docs/APPROVALS.md)."""

    list_display = ("__str__", "require_passkeys")

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and not ApprovalPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting it would silently mean the default

    def save_model(self, request, obj, form, change) -> None:
        obj.pk = 1  # the singleton
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit.record(
                "approval.policy_changed",
                actor=f"user:{request.user.pk}",
                detail={"require_passkeys": obj.require_passkeys},
            )


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
        "approved_with",
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
