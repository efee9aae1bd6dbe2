"""Admin for grants and tokens: metadata only, never a token, code or secret (not even masked).

DOT registers these through its *_ADMIN_CLASS settings; we subclass its admins to keep their
revoke actions and add-permission guards.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from oauth2_provider import admin as dot_admin
from unfold.contrib.filters.admin import FieldTextFilter, RangeDateTimeFilter
from unfold.widgets import UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget

from authserver.admin_base import LinesField, OperatorAdmin, TabularInline, short_id
from authserver.keys import keyring as keys
from authserver.models import (
    AuditEvent,
    Resource,
    RevocationCutoff,
    Scope,
    SigningKey,
    TokenExchangePolicy,
)
from authserver.revocation import service as revocation

_NEVER_SHOWN = ("token", "token_checksum", "code", "code_challenge", "nonce", "claims")


class _NoSecrets:
    def get_exclude(self, request, obj=None):
        return tuple(super().get_exclude(request, obj) or ()) + _NEVER_SHOWN

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return tuple(f for f in fields if f not in ("masked_token", "masked_code"))


class GrantAdmin(_NoSecrets, OperatorAdmin, dot_admin.GrantAdmin):
    list_display = ("pk", "user", "application", "scope", "expires", "consumed_at")
    list_select_related = ("user", "application")
    raw_id_fields = ("user", "application")
    readonly_fields = (
        "token_family",
        "resource",
        "redirect_uri",
        "created",
        "authorization_details",  # RFC 9396: as the user approved it
    )


class AccessTokenAdmin(_NoSecrets, OperatorAdmin, dot_admin.AccessTokenAdmin):
    list_display = ("short_jti", "user", "application", "scope", "expires", "revoked_at")
    list_filter = ("revoked_at", "application")
    search_fields = ("jti", *dot_admin.AccessTokenAdmin.search_fields)
    raw_id_fields = ("user", "application", "source_refresh_token", "id_token")
    readonly_fields = (
        "jti",
        "kid",
        "token_family",
        "resource",
        "auth_time",
        "created",
        "authorization_details",  # as signed into the JWT: editing it would lie in introspection
    )

    object_actions = ("revoke_tokens",)
    object_action_labels = {"revoke_tokens": "Revoke this token"}

    @admin.display(description="JWT ID", ordering="jti")
    def short_jti(self, obj) -> str:
        return short_id(obj.jti, 10)

    @admin.action(description="Revoke selected access tokens", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        """DOT's action, declaring the permission it needs (view-only staff cannot run it)."""
        dot_admin.AccessTokenAdmin.revoke_tokens(self, request, queryset)


class RefreshTokenAdmin(_NoSecrets, OperatorAdmin, dot_admin.RefreshTokenAdmin):
    list_display = ("pk", "user", "application", "family", "created", "revoked")
    object_actions = ("revoke_tokens",)
    object_action_labels = {"revoke_tokens": "Revoke this grant and its family"}

    @admin.display(description="token family", ordering="token_family")
    def family(self, obj) -> str:
        return short_id(str(obj.token_family or ""), 10)

    raw_id_fields = ("user", "application", "access_token")
    readonly_fields = ("token_family", "resource", "created", "last_used_at")

    @admin.action(description="Revoke selected refresh tokens", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        dot_admin.RefreshTokenAdmin.revoke_tokens(self, request, queryset)


class IDTokenAdmin(OperatorAdmin, dot_admin.IDTokenAdmin):
    raw_id_fields = ("user", "application")


class SigningKeyAdmin(OperatorAdmin):
    """States and dates only; the (encrypted) private key is never loaded into a form."""

    list_display = ("short_kid", "alg", "state", "created_at", "activated_at", "retire_after")
    list_filter = ("state", "alg")
    search_fields = ("kid",)
    exclude = ("private_jwk_encrypted",)
    readonly_fields = (
        "kid",
        "alg",
        "state",
        "public_jwk",
        "created_at",
        "activates_at",
        "activated_at",
        "retiring_at",
        "retire_after",
        "retired_at",
    )
    actions = ("rotate_now", "mark_compromised")
    object_actions = ("rotate_now", "mark_compromised")
    object_action_labels = {"rotate_now": "Rotate now", "mark_compromised": "Mark compromised"}
    change_list_template = "admin/authserver/signingkey/change_list.html"

    @admin.display(description="Key ID", ordering="kid")
    def short_kid(self, obj) -> str:
        return short_id(obj.kid, 16)

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        rotate = self.admin_site.admin_view(require_POST(self.rotate_all_now))
        return [
            path("rotate-now/", rotate, name="authserver_signingkey_rotate_now"),
            *super().get_urls(),
        ]

    def rotate_all_now(self, request: HttpRequest) -> HttpResponse:
        """The changelist's "Rotate keys now" button (POST, CSRF): a new key signs at once
        for every algorithm in use; the old ones stay published until their tokens expire."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        now = timezone.now()
        for alg in keys.algorithms_in_use() or [keys.default_algorithm()]:
            result = keys.rotate(alg, now=now, force=True)
            self.message_user(request, f"{alg}: new active key {result.activated[-1]}")
        return redirect("admin:authserver_signingkey_changelist")

    def has_delete_permission(self, request, obj=None):
        return False  # retire or mark compromised instead; tokens refer to the kid

    @admin.action(
        description="Rotate now (activate a new key for these algorithms)", permissions=["change"]
    )
    def rotate_now(self, request, queryset):
        now = timezone.now()
        for alg in sorted(set(queryset.values_list("alg", flat=True))):
            result = keys.rotate(alg, now=now, force=True)
            self.message_user(request, f"{alg}: new active key {result.activated[-1]}")

    @admin.action(
        description="Mark compromised (unpublish now, revoke its tokens)", permissions=["change"]
    )
    def mark_compromised(self, request, queryset):
        now = timezone.now()
        for key in queryset.exclude(state__in=("retired", "compromised")):
            revoked = revocation.revoke_compromised_key(
                key.kid, now=now, actor=f"admin:{request.user.pk}"
            )
            self.message_user(
                request,
                f"{key.kid}: unpublished and destroyed; {revoked} tokens revoked",
                level=messages.WARNING,
            )


admin.site.register(SigningKey, SigningKeyAdmin)


class ScopeForm(forms.ModelForm):
    """A resource's scope, its MCP tools typed as a comma-separated list."""

    tools = LinesField(
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "list_notes, add_note"}),
        help_text="MCP tools it unlocks, comma-separated (shown on the consent screen).",
    )
    implies = LinesField(
        required=False,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "notes:read"}),
        help_text="Scopes of this MCP server it includes (SEP-2350), comma-separated.",
    )

    class Meta:
        model = Scope
        fields = ("name", "description", "tools", "implies", "is_default")
        widgets = {
            "name": UnfoldAdminTextInputWidget(),
            "description": UnfoldAdminTextInputWidget(),
        }


def _without_groups_when_none_exist(exclude) -> tuple:
    """The group pickers (authserver.resources.grouppolicy) only when a group exists: an empty
    picker is noise, and with no group no MCP server or scope can be limited to one."""
    exclude = tuple(exclude or ())
    return exclude if Group.objects.exists() else (*exclude, "allowed_groups")


class ScopeInline(TabularInline):
    model = Scope
    form = ScopeForm
    extra = 1
    fields = ("name", "description", "tools", "implies", "is_default", "allowed_groups")
    # Per scope, empty means everyone; a search box instead of a 14 px wide multi-select.
    autocomplete_fields = ("allowed_groups",)

    def get_fields(self, request, obj=None):
        hidden = _without_groups_when_none_exist(())
        return [f for f in super().get_fields(request, obj) if f not in hidden]


class ResourceAdmin(OperatorAdmin):
    list_display = (
        "name",
        "short_identifier",
        "enabled",
        "require_dpop",
        "lifetime",
        "scope_names",
    )
    list_filter = ("enabled", "require_dpop")
    search_fields = ("name", "identifier")
    actions = ("revoke_resource_tokens",)
    readonly_fields = ("canonical", "created_at", "updated_at")
    raw_id_fields = ("introspection_client",)
    autocomplete_fields = ("allowed_groups",)  # authserver.resources.grouppolicy
    inlines = (ScopeInline,)
    formfield_overrides = {
        models.TextField: {"widget": UnfoldAdminTextareaWidget(attrs={"rows": 2})}
    }

    @admin.action(description="Revoke every token for selected MCP servers", permissions=["change"])
    def revoke_resource_tokens(self, request, queryset):
        now = timezone.now()
        revoked = sum(
            revocation.revoke_resource(r, now=now, actor=f"admin:{request.user.pk}")
            for r in queryset
        )
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)

    object_actions = ("revoke_resource_tokens",)
    object_action_labels = {"revoke_resource_tokens": "Revoke every token for this MCP server"}

    def get_exclude(self, request, obj=None):
        return _without_groups_when_none_exist(super().get_exclude(request, obj))

    @admin.display(description="identifier (RFC 8707)", ordering="identifier")
    def short_identifier(self, obj) -> str:
        return short_id(obj.identifier, 32)

    @admin.display(description="token lifetime", ordering="access_token_lifetime")
    def lifetime(self, obj) -> str:
        return f"{obj.access_token_lifetime} s"

    @admin.display(description="scopes")
    def scope_names(self, obj) -> str:
        return " ".join(s.name for s in obj.scopes.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("scopes")


admin.site.register(Resource, ResourceAdmin)


class AuditEventAdmin(OperatorAdmin):
    """Read-only: the trail is append-only and hash-chained."""

    list_display = (
        "when",
        "kind",
        "actor",
        "short_client",
        "short_resource",
        "short_jti",
        "delegation",
        "chain_index",
    )
    list_filter = (
        "kind",
        ("actor", FieldTextFilter),
        ("client_id", FieldTextFilter),
        ("user_id", FieldTextFilter),
        ("resource", FieldTextFilter),
        ("at", RangeDateTimeFilter),
    )
    list_filter_submit = True
    search_fields = ("client_id", "user_id", "jti", "family", "resource")

    @admin.display(description="at (UTC)", ordering="at")
    def when(self, obj) -> str:
        return format_html(
            '<span title="{}">{}</span>', obj.at.isoformat(), f"{obj.at:%Y-%m-%d %H:%M:%S}"
        )

    @admin.display(description="Client ID", ordering="client_id")
    def short_client(self, obj) -> str:
        return short_id(obj.client_id, 12)

    @admin.display(description="MCP server", ordering="resource")
    def short_resource(self, obj) -> str:
        return short_id(obj.resource, 16)

    @admin.display(description="JWT ID")
    def short_jti(self, obj) -> str:
        return short_id(obj.jti, 10)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Acting for")
    def delegation(self, obj) -> str:
        chain, act = [], obj.detail.get("act") if isinstance(obj.detail, dict) else None
        while isinstance(act, dict):
            chain.append(str(act.get("sub", "?")))
            act = act.get("act")
        return short_id(" <- ".join(chain), 14) if chain else "-"


class RevocationCutoffAdmin(OperatorAdmin):
    list_display = ("kind", "value", "before", "expires_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(AuditEvent, AuditEventAdmin)
admin.site.register(RevocationCutoff, RevocationCutoffAdmin)


class TokenExchangePolicyAdmin(OperatorAdmin):
    """RFC 8693: which client may turn a token for one MCP server into one for another."""

    list_display = ("client", "source", "target", "scope", "enabled")
    list_filter = ("enabled",)
    raw_id_fields = ("client",)


admin.site.register(TokenExchangePolicy, TokenExchangePolicyAdmin)

from authserver.admin import urls as admin_pages  # noqa: E402 - the access review, audit stream
from authserver.tool_grants import admin as tool_grants_admin  # noqa: E402, F401 - registers it

admin.site.register_pages(admin_pages.urlpatterns)
from authserver.admin import audit_sinks as audit_sinks_admin  # noqa: E402, F401 - registers it
