"""Admin for providers (client secret write-only), connections (no token ever shown) and
policies (which MCP server may use which provider, with which upstream scopes)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models
from django.utils import timezone

from authserver.admin_base import OperatorAdmin
from connections import services, upstream, vault
from connections.models import Connection, ConnectionPolicy, UpstreamProvider


def url_fields_assume_https(field, **kwargs):
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class ProviderForm(forms.ModelForm):
    client_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: stored encrypted, never shown. Leave empty to keep the current one.",
    )

    class Meta:
        model = UpstreamProvider
        formfield_callback = url_fields_assume_https
        fields = (
            "slug",
            "name",
            "discovery_url",
            "authorization_endpoint",
            "token_endpoint",
            "revocation_endpoint",
            "userinfo_endpoint",
            "client_id",
            "token_endpoint_auth_method",
            "scopes",
            "extra_authorize_params",
            "use_pkce",
            "rotates_refresh_tokens",
            "default_access_lifetime",
            "enabled",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("authorization_endpoint", "token_endpoint"):
            self.fields[name].required = False

    def clean(self):
        data = super().clean()
        if data.get("discovery_url") and not data.get("token_endpoint"):
            try:
                found = upstream.discover(data["discovery_url"])
            except upstream.UpstreamError:
                raise forms.ValidationError("the discovery document could not be read") from None
            for name, value in found.items():
                data[name] = data.get(name) or value
        for name in ("authorization_endpoint", "token_endpoint"):
            if not data.get(name):
                self.add_error(name, "required (or give a discovery URL)")
        if not self.instance.client_secret_encrypted and not data.get("client_secret"):
            self.add_error("client_secret", "required")
        return data

    def save(self, commit=True):
        provider = super().save(commit=False)
        if self.cleaned_data.get("client_secret"):
            vault.seal(provider, "client_secret_encrypted", self.cleaned_data["client_secret"])
        if commit:
            provider.save()
        return provider


@admin.register(UpstreamProvider)
class UpstreamProviderAdmin(OperatorAdmin):
    form = ProviderForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("name", "slug", "enabled", "rotates_refresh_tokens", "updated_at")
    list_filter = ("enabled",)
    exclude = ("client_secret_encrypted",)


@admin.register(Connection)
class ConnectionAdmin(OperatorAdmin):
    list_display = ("user", "provider", "status", "account", "failures", "last_refreshed_at")
    list_filter = ("status", "provider")
    search_fields = ("user__username", "account")
    fields = (
        "user",
        "provider",
        "status",
        "account",
        "scopes",
        "access_expires_at",
        "refresh_at",
        "failures",
        "last_error",
        "last_refreshed_at",
        "connected_at",
    )
    readonly_fields = fields
    actions = ["disconnect_selected"]
    object_actions = ("disconnect_selected",)
    object_action_labels = {"disconnect_selected": "Disconnect"}

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(
        description="Disconnect (revokes upstream where supported)", permissions=["change"]
    )
    def disconnect_selected(self, request, queryset) -> None:
        done = services.disconnect_all(queryset, now=timezone.now(), actor=f"admin:{request.user}")
        self.message_user(request, f"{done} connection(s) disconnected.")


@admin.register(ConnectionPolicy)
class ConnectionPolicyAdmin(OperatorAdmin):
    list_display = ("client", "resource", "provider", "scopes", "enabled")
    list_filter = ("provider", "enabled")
    raw_id_fields = ("client",)
