"""A minimal admin for Cedar policies (validated on save by CedarPolicy.clean)."""

from django.contrib import admin

from authserver.admin_base import OperatorAdmin
from authzen.models import CedarPolicy


@admin.register(CedarPolicy)
class CedarPolicyAdmin(OperatorAdmin):
    list_display = ("name", "resource", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("name",)
