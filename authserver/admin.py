"""Admin for grants and tokens: metadata only, never a token, code or secret (not even masked).

DOT registers these through its *_ADMIN_CLASS settings; we subclass its admins to keep their
revoke actions and add-permission guards.
"""

from django.contrib import admin, messages
from django.utils import timezone
from oauth2_provider import admin as dot_admin

from authserver import keys
from authserver.models import (
    AuditEvent,
    Resource,
    RevocationCutoff,
    Scope,
    SigningKey,
    TokenExchangePolicy,
)

_NEVER_SHOWN = ("token", "token_checksum", "code", "code_challenge", "nonce", "claims")


class _NoSecrets:
    def get_exclude(self, request, obj=None):
        return tuple(super().get_exclude(request, obj) or ()) + _NEVER_SHOWN

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return tuple(f for f in fields if f not in ("masked_token", "masked_code"))


class GrantAdmin(_NoSecrets, dot_admin.GrantAdmin):
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


class AccessTokenAdmin(_NoSecrets, dot_admin.AccessTokenAdmin):
    list_display = ("pk", "jti", "user", "application", "scope", "expires", "revoked_at")
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


class RefreshTokenAdmin(_NoSecrets, dot_admin.RefreshTokenAdmin):
    list_display = ("pk", "user", "application", "token_family", "created", "revoked")
    raw_id_fields = ("user", "application", "access_token")
    readonly_fields = ("token_family", "resource", "created", "last_used_at")


class IDTokenAdmin(dot_admin.IDTokenAdmin):
    raw_id_fields = ("user", "application")


class SigningKeyAdmin(admin.ModelAdmin):
    """States and dates only; the (encrypted) private key is never loaded into a form."""

    list_display = ("kid", "alg", "state", "created_at", "activated_at", "retire_after")
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

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # retire or mark compromised instead; tokens refer to the kid

    @admin.action(description="Rotate now (activate a new key for these algorithms)")
    def rotate_now(self, request, queryset):
        now = timezone.now()
        for alg in sorted(set(queryset.values_list("alg", flat=True))):
            result = keys.rotate(alg, now=now, force=True)
            self.message_user(request, f"{alg}: new active key {result.activated[-1]}")

    @admin.action(description="Mark compromised (unpublish now, revoke its tokens)")
    def mark_compromised(self, request, queryset):
        now = timezone.now()
        for key in queryset.exclude(state__in=("retired", "compromised")):
            revoked = keys.mark_compromised(key.kid, now=now, actor=f"admin:{request.user.pk}")
            self.message_user(
                request,
                f"{key.kid}: unpublished and destroyed; {revoked} tokens revoked",
                level=messages.WARNING,
            )


admin.site.register(SigningKey, SigningKeyAdmin)


class ScopeInline(admin.TabularInline):
    model = Scope
    extra = 1
    fields = ("name", "description", "tools", "is_default")


class ResourceAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "identifier",
        "enabled",
        "require_dpop",
        "access_token_lifetime",
        "scope_names",
    )
    list_filter = ("enabled", "require_dpop")
    search_fields = ("name", "identifier")
    readonly_fields = ("canonical", "created_at", "updated_at")
    raw_id_fields = ("introspection_client",)
    inlines = (ScopeInline,)

    @admin.display(description="scopes")
    def scope_names(self, obj) -> str:
        return " ".join(s.name for s in obj.scopes.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("scopes")


admin.site.register(Resource, ResourceAdmin)


class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only and hash-chained."""

    list_display = (
        "at",
        "kind",
        "actor",
        "client_id",
        "user_id",
        "resource",
        "jti",
        "delegation",
        "chain_index",
    )
    list_filter = ("kind",)
    search_fields = ("client_id", "user_id", "jti", "family", "resource")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="acting for (RFC 8693 act chain)")
    def delegation(self, obj) -> str:
        chain, act = [], obj.detail.get("act") if isinstance(obj.detail, dict) else None
        while isinstance(act, dict):
            chain.append(str(act.get("sub", "?")))
            act = act.get("act")
        return " <- ".join(chain)


class RevocationCutoffAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "before", "expires_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register(AuditEvent, AuditEventAdmin)
admin.site.register(RevocationCutoff, RevocationCutoffAdmin)


class TokenExchangePolicyAdmin(admin.ModelAdmin):
    """RFC 8693: which client may turn a token for one MCP server into one for another."""

    list_display = ("client", "source", "target", "scope", "enabled")
    list_filter = ("enabled",)
    raw_id_fields = ("client",)


admin.site.register(TokenExchangePolicy, TokenExchangePolicyAdmin)

from authserver.tool_grants import admin as tool_grants_admin  # noqa: E402, F401 - registers it
