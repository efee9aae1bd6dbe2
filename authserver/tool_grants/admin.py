"""Admin for the tool policy: allow and deny rules per MCP server (imported by authserver.admin)."""

from django.contrib import admin

from authserver.admin_base import OperatorAdmin
from authserver.tool_grants.models import ToolPolicy


@admin.register(ToolPolicy)
class ToolPolicyAdmin(OperatorAdmin):
    """Changes apply to the next token issued or refreshed; tokens already out keep what they
    carry until they expire (at most the resource's access token lifetime)."""

    list_display = ("resource", "effect", "audience", "tool_names", "constraints", "enabled")
    list_filter = ("enabled", "effect", "resource")
    list_select_related = ("resource", "client", "group")
    raw_id_fields = ("client",)
    fields = ("resource", "effect", "client", "group", "tools", "constraints", "enabled", "note")

    @admin.display(description="tools")
    def tool_names(self, obj) -> str:
        return ", ".join(obj.tools)
