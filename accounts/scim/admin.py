"""Admin for SCIM tokens: create one (shown once, only its digest is stored), revoke it."""

from __future__ import annotations

import contextlib

from django.contrib import admin
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from accounts.scim import tokens
from accounts.scim.models import ScimIdentity, ScimToken
from authserver.admin_base import OperatorAdmin


@admin.register(ScimToken)
class ScimTokenAdmin(OperatorAdmin):
    list_display = ("name", "provider", "created_at", "last_used_at", "revoked_at")
    # The provider is chosen once: the users a token provisions link only that provider's
    # sign-ins (docs/IDENTITY.md); rebinding is `bin/manage bind_scim_provider`.
    fields = ("name", "provider", "revoked_at")
    readonly_fields = ("revoked_at",)

    def get_readonly_fields(self, request, obj=None):
        return ("provider", "revoked_at") if obj is not None else ("revoked_at",)

    actions = ("revoke",)
    object_actions = ("revoke",)
    object_action_labels = {"revoke": "Revoke this token"}

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, plaintext = tokens.issue_token(
            obj.name, provider=obj.provider, actor=f"admin:{request.user.pk}"
        )
        obj.pk, obj.digest, obj._plaintext = token.pk, token.digest, plaintext

    def response_add(self, request, obj, post_url_continue=None):
        # Rendered straight into this response, never stored or put in a message cookie.
        response = render(
            request,
            "admin/scim_token_created.html",
            {
                **self.admin_site.each_context(request),
                "title": "New SCIM token",
                "token": obj._plaintext,
                "name": obj.name,
                "opts": self.model._meta,
            },
        )
        add_never_cache_headers(response)  # Cache-Control: no-store among others
        return response

    @admin.action(description="Revoke selected SCIM tokens", permissions=["change"])
    def revoke(self, request, queryset) -> None:
        for pk in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True):
            with contextlib.suppress(tokens.TokenRefused):  # revoked meanwhile: nothing to do
                tokens.revoke_token(pk, actor=f"admin:{request.user.pk}", now=timezone.now())


@admin.register(ScimIdentity)
class ScimIdentityAdmin(OperatorAdmin):
    list_display = ("user", "external_id")
    search_fields = ("user__username", "external_id")
    raw_id_fields = ("user",)
