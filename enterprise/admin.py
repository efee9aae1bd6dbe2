"""Admin pages for trusted identity providers, workload trust rules and subject links."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from authserver.admin_base import OperatorAdmin
from enterprise.models import EnterpriseSubject, TrustedIdentityProvider, WorkloadTrustRule


@admin.register(TrustedIdentityProvider)
class TrustedIdentityProviderAdmin(OperatorAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("name", "issuer", "enabled", "provision_users")
    list_filter = ("enabled", "provision_users")
    search_fields = ("name", "issuer")
    autocomplete_fields = ("clients", "resources")


@admin.register(WorkloadTrustRule)
class WorkloadTrustRuleAdmin(OperatorAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("name", "issuer", "subject_pattern", "audience", "client", "enabled")
    list_filter = ("enabled", "issuer")
    search_fields = ("name", "issuer", "subject_pattern")
    raw_id_fields = ("client",)


@admin.register(EnterpriseSubject)
class EnterpriseSubjectAdmin(OperatorAdmin):
    list_display = ("issuer", "subject", "user", "created_at")
    search_fields = ("issuer", "subject", "user__username")
    raw_id_fields = ("user",)
