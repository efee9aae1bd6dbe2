"""Admin registrations of the accounts app: people and groups, sign-in providers (allauth's
apps, with a guided form), linked accounts, consents, and the SCIM models.

django.contrib.auth and allauth register their own admins; this module replaces them, in
this one place, with the theme's pages and with forms that never show a secret. It imports
allauth's admin modules first so that their registrations exist before being replaced.
"""

from __future__ import annotations

from allauth.account import admin as allauth_account_admin
from allauth.account.models import EmailAddress
from allauth.socialaccount import admin as allauth_social_admin  # noqa: F401 - see above
from allauth.socialaccount import providers as allauth_providers
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from accounts import principals
from accounts.models import Consent
from accounts.scim import admin as scim_admin  # noqa: F401 - registers the SCIM models
from accounts.upstream.app_secret import MAX_SECRET
from authserver.admin_base import EstimatedCountPaginator, LinesField, OperatorAdmin, short_id
from authserver.authorization import consent as consents

for model in (User, Group, SocialApp, SocialAccount, SocialToken, EmailAddress):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(User)
class PersonAdmin(auth_admin.UserAdmin, OperatorAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = ("username", "email", "first_name", "last_name", "is_active", "is_staff")
    # A million people and 20,000 groups: the group filter is a search box (the groups
    # admin's autocomplete) instead of every group's name rendered into each page, there is
    # no second COUNT(*) for "N total", and an unfiltered page counts from PostgreSQL's
    # estimate (authserver.admin_base.EstimatedCountPaginator).
    list_filter = ("is_staff", "is_superuser", "is_active", ("groups", AutocompleteSelectFilter))
    list_filter_submit = True
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(Group)
class GroupAdmin(auth_admin.GroupAdmin, OperatorAdmin):
    def get_deleted_objects(self, objs, request):
        """A group a policy names cannot be deleted (accounts.principals refuses it, fail
        closed): the confirmation page lists those policies as protected, instead of the
        delete failing with a server error."""
        deleted, counts, perms, protected = super().get_deleted_objects(objs, request)
        for group in objs:
            protected = [*protected, *principals.policies_naming(group)]
        return deleted, counts, perms, protected


# Settings the guided form edits; anything else an app's JSON holds is kept as it is.
GUIDED = (
    "server_url",
    "allowed_email_domains",
    "tenant_id",
    "github_org",
    "groups_claim",
    "email_authentication",
    "scim_external_id_claim",
    "hidden",
)


class SignInProviderForm(forms.ModelForm):
    """One form per provider type: the OpenID Connect fields or the GitHub ones (the page's
    fieldsets), never a raw JSON box. The client secret is write-only."""

    provider = forms.ChoiceField(choices=())
    secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=False,
        max_length=MAX_SECRET,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown. Leave empty to keep the current secret.",
    )
    server_url = forms.URLField(
        label="Issuer URL",
        required=False,
        assume_scheme="https",
        help_text="OpenID Connect: the issuer, e.g. https://acme.okta.com (https only).",
    )
    allowed_email_domains = LinesField(
        label="Allowed email domains",
        help_text="Only people with a verified email in these domains may sign in; one a line.",
    )
    tenant_id = forms.CharField(
        label="Entra ID tenant", required=False, help_text="Entra ID: only this tenant's users."
    )
    github_org = forms.CharField(
        label="GitHub organisation", required=False, help_text="GitHub: only its members."
    )
    groups_claim = forms.CharField(
        label="Groups claim", required=False, help_text="ID token claim listing the groups."
    )
    email_authentication = forms.BooleanField(
        label="Link by verified email",
        required=False,
        help_text="Sign people in to an existing account with the same verified email. "
        "Staff accounts are never linked by email.",
    )
    scim_external_id_claim = forms.CharField(
        label="SCIM externalId claim",
        required=False,
        help_text="The claim that matches the externalId your SCIM client sets.",
    )
    hidden = forms.BooleanField(
        label="Hidden on the sign-in page",
        required=False,
        help_text="Reachable only by its direct link.",
    )
    other_settings = forms.JSONField(
        label="Other settings (JSON)",
        required=False,
        help_text="Settings this form does not cover, kept as they are.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = SocialApp
        fields = ("provider", "provider_id", "name", "client_id")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = allauth_providers.registry.as_choices()
        stored = dict(self.instance.settings or {})
        for key in GUIDED:
            if key in stored:
                self.initial[key] = stored.pop(key)
        self.initial["other_settings"] = stored or None

    def clean(self) -> dict:
        data = super().clean()
        if data.get("provider") == "openid_connect" and not data.get("server_url"):
            self.add_error("server_url", "An OpenID Connect provider needs its issuer URL.")
        if not self.instance.secret and not data.get("secret"):
            self.add_error("secret", "Required for a new provider.")
        other = data.get("other_settings") or {}
        if not isinstance(other, dict):
            self.add_error("other_settings", "A JSON object.")
        if not data.get("secret"):
            data.pop("secret", None)  # write-only: an empty box keeps the stored secret
        return data

    def save(self, commit: bool = True) -> SocialApp:
        app = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            app.secret = self.cleaned_data["secret"]
        settings = dict(self.cleaned_data.get("other_settings") or {})
        for key in GUIDED:
            value = self.cleaned_data.get(key)
            if value not in (None, "", [], False):
                settings[key] = value
        if app.provider == "openid_connect":
            settings.setdefault("oauth_pkce_enabled", True)
        app.settings = settings
        if commit:
            app.save()
            self.save_m2m()
        return app


@admin.register(SocialApp)
class SignInProviderAdmin(OperatorAdmin):
    """Upstream sign-in (allauth's "social applications"), edited field by field. The secret
    is sealed at rest (accounts.upstream.app_secret) and never rendered; staff who may only
    view do not get the field at all (a read-only field would print the opened value)."""

    form = SignInProviderForm
    list_display = ("name", "provider", "provider_id", "short_client_id")
    search_fields = ("name", "provider_id", "client_id")
    fieldsets = (
        (None, {"fields": ("name", "provider", "provider_id", "client_id", "secret")}),
        (
            "OpenID Connect (Okta, Entra ID, Google, Keycloak)",
            {"fields": ("server_url", "tenant_id", "groups_claim", "scim_external_id_claim")},
        ),
        ("GitHub", {"fields": ("github_org",)}),
        (
            "Who may sign in",
            {"fields": ("allowed_email_domains", "email_authentication", "hidden")},
        ),
        ("Advanced", {"classes": ("collapse",), "fields": ("other_settings",)}),
    )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (title, {**opts, "fields": tuple(f for f in opts["fields"] if f != "secret")})
            for title, opts in fieldsets
        ]

    @admin.display(description="Client ID", ordering="client_id")
    def short_client_id(self, obj) -> str:
        return short_id(obj.client_id, 24)


@admin.register(SocialAccount)
class LinkedAccountAdmin(OperatorAdmin):
    """(provider, subject) links; ``extra_data`` (the provider's claims) is not shown."""

    list_display = ("user", "provider", "short_uid", "last_login", "date_joined")
    list_filter = ("provider",)
    search_fields = ("uid", "user__username")
    raw_id_fields = ("user",)
    exclude = ("extra_data",)

    @admin.display(description="Subject", ordering="uid")
    def short_uid(self, obj) -> str:
        return short_id(obj.uid, 24)


@admin.register(EmailAddress)
class EmailAddressAdmin(OperatorAdmin, allauth_account_admin.EmailAddressAdmin):
    actions = ("make_verified",)

    @admin.action(description="Mark selected email addresses verified", permissions=["change"])
    def make_verified(self, request, queryset):
        allauth_account_admin.EmailAddressAdmin.make_verified(self, request, queryset)


@admin.register(Consent)
class ConsentAdmin(OperatorAdmin):
    """What each person allowed each agent at each MCP server; withdrawing (or deleting) one
    revokes the tokens of that grant (authserver.authorization.consent.withdraw). Created only
    by the person.
    Deleting stays allowed: a person's or client's deletion cascades to their consents."""

    list_display = ("user", "client", "resource", "scope", "updated_at")
    list_filter = ("resource",)
    search_fields = ("user__username", "client__name", "client__client_id")
    list_select_related = ("user", "client", "resource")
    readonly_fields = ("user", "client", "resource", "scope", "declined_tools", "created_at")
    actions = ("withdraw",)
    object_actions = ("withdraw",)
    object_action_labels = {"withdraw": "Withdraw and revoke its tokens"}

    def has_add_permission(self, request) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        consents.withdraw(obj)  # a bare delete would leave the grant's tokens working

    def delete_queryset(self, request, queryset) -> None:
        for granted in queryset.select_related("user", "client", "resource"):
            consents.withdraw(granted)

    @admin.action(
        description="Withdraw selected consents (revokes their tokens)", permissions=["change"]
    )
    def withdraw(self, request, queryset):
        chosen = queryset.select_related("user", "client", "resource")
        revoked = sum(consents.withdraw(granted) for granted in chosen)
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)
