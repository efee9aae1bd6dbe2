"""Admin for OAuth clients (registered by DOT through APPLICATION_ADMIN_CLASS).

The secret and the registration access token are stored hashed and never shown. The list
says how each client came to exist (admin, dynamic registration, metadata document),
whether an admin verified it, when it was last used and how many live grants it holds;
identical registrations are grouped by their metadata fingerprint. The registration
policy in force is shown above the list (clients/policy.py).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from oauth2_provider import admin as dot_admin
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from unfold.contrib.filters.admin import FieldTextFilter

from authserver import audit
from authserver.admin_base import EstimatedCountPaginator, OperatorAdmin, TabularInline, short_id
from authserver.models import ResourceAccess
from authserver.revocation import service as revocation
from clients import policy, services
from clients.admin_forms import ClientForm
from clients.models import Client, InitialAccessToken


class ResourceAccessInline(TabularInline):
    """Client credentials: which resources, and which of their scopes, this client may get."""

    model = ResourceAccess
    extra = 0
    autocomplete_fields = ()
    fields = ("resource", "scope")


def _shorten(value: str, width: int) -> str:
    return value if len(value) <= width else f"{value[: width - 9]}…{value[-8:]}"


# Counts on the list are exact up to this many and shown as "1000+" beyond: each is a range
# scan of at most COUNT_CAP + 1 index entries, so a page costs the same with a million tokens.
COUNT_CAP = 1000

# One statement per column for the page's rows only (never a per-row subquery over every
# client, which also let the list be sorted by it: a count for each of 100,000 clients).
# Served by the partial indexes live_tokens_by_client / live_grants_by_client and
# clients_index_fingerprint.
_LIVE_TOKENS = """
SELECT page.id, (SELECT count(*) FROM (SELECT 1 FROM {table} t
    WHERE t.application_id = page.id AND t.revoked_at IS NULL AND t.expires > %(now)s
    LIMIT %(cap)s) capped)
FROM unnest(%(ids)s::bigint[]) AS page(id)"""
_LIVE_GRANTS = """
SELECT page.id, (SELECT count(*) FROM (SELECT 1 FROM {table} t
    WHERE t.application_id = page.id AND t.revoked IS NULL LIMIT %(cap)s) capped)
FROM unnest(%(ids)s::bigint[]) AS page(id)"""
_COPIES = """
SELECT page.fp, (SELECT count(*) FROM (SELECT 1 FROM {table} c
    WHERE c.metadata_fingerprint = page.fp LIMIT %(cap)s) capped)
FROM unnest(%(fps)s::text[]) AS page(fp)"""


def _page_counts(sql: str, model, **params) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=model._meta.db_table), {**params, "cap": COUNT_CAP + 1})
        return dict(cursor.fetchall())


def annotate_page(clients: list[Client], *, now) -> None:
    """Live grants, live tokens and identical copies of the clients on one list page."""
    ids = [c.pk for c in clients]
    fingerprints = sorted({c.metadata_fingerprint for c in clients if c.metadata_fingerprint})
    tokens = _page_counts(_LIVE_TOKENS, get_access_token_model(), ids=ids, now=now)
    grants = _page_counts(_LIVE_GRANTS, get_refresh_token_model(), ids=ids)
    copies = _page_counts(_COPIES, Client, fps=fingerprints) if fingerprints else {}
    for client in clients:
        client.live_token_count = tokens.get(client.pk, 0)
        client.grant_count = grants.get(client.pk, 0)
        client.copies = copies.get(client.metadata_fingerprint, 1)


def _capped(n: int) -> str:
    return f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)


SOURCE_SHORT = {"manual": "admin", "dcr": "DCR", "cimd": "CIMD"}


class DuplicateFilter(admin.SimpleListFilter):
    title = "identical registrations"
    parameter_name = "duplicates"

    def lookups(self, request, model_admin):
        return (("yes", "has identical copies"), ("no", "unique"))

    def queryset(self, request, queryset):
        twin = Client.objects.filter(metadata_fingerprint=OuterRef("metadata_fingerprint"))
        twin = twin.exclude(metadata_fingerprint="").exclude(pk=OuterRef("pk"))
        if self.value() == "yes":
            return queryset.filter(Exists(twin))
        if self.value() == "no":
            return queryset.exclude(Exists(twin))
        return queryset


class ClientAdmin(OperatorAdmin, dot_admin.ApplicationAdmin):
    # DOT's ApplicationForm edits the secret and its single grant type; ours shows neither
    # (clients/admin_forms.py): grant and response types are checkboxes, contacts are lines.
    form = ClientForm
    # DOT's Application.get_absolute_url reverses its own management views, which we do not
    # mount: "View on site" answered 500 (NoReverseMatch). A client has no public page.
    view_on_site = False
    # The registration policy in force, above the table (not in the header, which it crushed).
    list_before_template = "admin/clients/client/registration_policy.html"
    # 100,000 self-registered clients: no second COUNT(*) for "N total", and the page's
    # count from PostgreSQL's estimate while unfiltered (authserver.admin_base).
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # The columns an operator acts on fit 1280 px; the rest is in filters and the form.
    list_display = (
        "short_name",
        "short_client_id",
        "source",
        "verified",
        "is_active",
        "last_used",
        "grants",
        "live_tokens",
        "copies_link",
    )
    list_filter = (
        "registration_source",
        "client_type",
        "verified",
        "is_active",
        DuplicateFilter,
        # A search box: the list of every distinct software_id read all 100,000 clients on
        # each page shown.
        ("software_id", FieldTextFilter),
    )
    list_filter_submit = True
    search_fields = ("name", "client_id", "software_id", "metadata_fingerprint")
    radio_fields = {"client_type": admin.HORIZONTAL, "application_type": admin.HORIZONTAL}
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = (ResourceAccessInline,)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "client_id",
                    ("client_type", "application_type"),
                    "token_endpoint_auth_method",
                    "grant_types",
                    "response_types",
                    "redirect_uris",
                    "scope",
                )
            },
        ),
        ("Trust", {"fields": ("verified", "is_active", "skip_authorization", "user")}),
        ("Limits", {"fields": ("token_rate_limit",)}),
        (
            "Client metadata (RFC 7591 §2)",
            {
                "classes": ("collapse",),
                "fields": (
                    "client_uri",
                    "logo_uri",
                    "tos_uri",
                    "policy_uri",
                    "contacts",
                    ("software_id", "software_version"),
                    "allowed_origins",
                ),
            },
        ),
        (
            "How it came to exist",
            {
                "classes": ("collapse",),
                "fields": (
                    "registration_source",
                    ("created", "updated", "last_used_at"),
                    "registered_from",
                    "initial_access_token",
                    "metadata_fingerprint",
                    "cimd_expires_at",
                ),
            },
        ),
    )
    readonly_fields = (
        "client_id",
        "registration_source",
        "cimd_expires_at",
        "created",
        "updated",
        "last_used_at",
        "metadata_fingerprint",
        "registered_from",
        "initial_access_token",
    )
    actions = (
        "verify_clients",
        "revoke_client_tokens",
        "issue_new_secret",
        "disable_clients",
        "delete_selected",
    )
    # The same actions as buttons on a client's own page.
    object_actions = (
        "verify_clients",
        "issue_new_secret",
        "revoke_client_tokens",
        "disable_clients",
    )
    object_action_labels = {
        "verify_clients": "Verify",
        "issue_new_secret": "Issue a new secret",
        "revoke_client_tokens": "Revoke every token",
        "disable_clients": "Disable and revoke",
    }

    @admin.display(description="name", ordering="name")
    def short_name(self, obj) -> str:
        return format_html(
            '<span class="nowrap" title="{}">{}</span>', obj.name, _shorten(obj.name, 22)
        )

    @admin.display(description="source", ordering="registration_source")
    def source(self, obj) -> str:
        """Short: the full name is in the filter and the tooltip."""
        short = SOURCE_SHORT.get(obj.registration_source, obj.registration_source)
        return format_html(
            '<span title="{}">{}</span>', obj.get_registration_source_display(), short
        )

    @admin.display(description="Client ID", ordering="client_id")
    def short_client_id(self, obj) -> str:
        """Long ids (metadata document URLs) would push the other columns off screen."""
        return short_id(obj.client_id, 20)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        annotate_page(list(changelist.result_list), now=timezone.now())
        return changelist

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj) -> str:
        return f"{obj.last_used_at:%Y-%m-%d %H:%M}" if obj.last_used_at else "-"

    @admin.display(description="grants")
    def grants(self, obj) -> str:
        """Live refresh tokens: authorizations a user gave and has not lost."""
        return _capped(obj.grant_count)

    @admin.display(description="live tokens")
    def live_tokens(self, obj) -> str:
        return _capped(obj.live_token_count)

    @admin.display(description="copies")
    def copies_link(self, obj):
        if not obj.metadata_fingerprint:
            return "-"
        return format_html(
            '<a href="?metadata_fingerprint={}" title="{}">{}</a>',
            obj.metadata_fingerprint,
            obj.metadata_fingerprint,
            _capped(obj.copies),
        )

    def get_deleted_objects(self, objs, request):
        """Tokens and codes cannot be deleted one by one in the admin (DOT: revoke them
        instead), but they go with their client: deleting the client is the point."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        cascaded = {
            str(model._meta.verbose_name)
            for model in (
                get_access_token_model(),
                get_refresh_token_model(),
                get_grant_model(),
                get_id_token_model(),
            )
        }
        return deleted, counts, set(perms_needed) - cascaded, protected

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "metadata_fingerprint" or super().lookup_allowed(lookup, value, request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "registration_policy": policy.summary()}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.action(description="Verify selected clients", permissions=["change"])
    def verify_clients(self, request, queryset):
        updated = queryset.update(verified=True)
        self.message_user(request, f"{updated} client(s) verified.", messages.SUCCESS)

    @admin.action(description="Revoke every token of selected clients", permissions=["change"])
    def revoke_client_tokens(self, request, queryset):
        """The clients stay usable: their users sign in again (for a leaked token store)."""
        now = timezone.now()
        revoked = 0
        for client in queryset:
            revoked += revocation.revoke_client(client, now=now, actor=f"admin:{request.user.pk}")
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)

    @admin.action(description="Issue a new secret (shown once)", permissions=["change"])
    def issue_new_secret(self, request, queryset):
        """One confidential client: a fresh secret, shown on this response only (no-store,
        never in a message, log or audit event); the old secret stops working at once."""
        clients = list(queryset[:2])
        if len(clients) != 1 or clients[0].is_public:
            self.message_user(request, "Select exactly one confidential client.", messages.ERROR)
            return None
        client = clients[0]
        with transaction.atomic():
            secret = client.set_new_secret()
            client.save(update_fields=["client_secret", "updated"])
            audit.record(
                "client.secret_rotated",
                actor=f"admin:{request.user.pk}",
                client_id=client.client_id,
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "New client secret",
            "client": client,
            "secret": secret,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/clients/client/new_secret.html", context)
        add_never_cache_headers(response)  # Cache-Control: no-store among others
        return response

    @admin.action(
        description="Disable selected clients and revoke their tokens", permissions=["change"]
    )
    def disable_clients(self, request, queryset):
        now = timezone.now()
        clients = list(queryset)
        revoked = sum(services.disable_client(client, now=now) for client in clients)
        self.message_user(
            request,
            f"{len(clients)} client(s) disabled, {revoked} token(s) revoked.",
            messages.SUCCESS,
        )


@admin.register(InitialAccessToken)
class InitialAccessTokenAdmin(OperatorAdmin):
    """RFC 7591 §3 initial access tokens. Issued with ``manage.py
    issue_initial_access_token`` (the token is printed once); here they are listed and
    revoked."""

    list_display = ("label", "created_at", "expires_at", "uses", "max_uses", "revoked_at")
    readonly_fields = ("created_at", "created_by", "uses")
    exclude = ("token_hash",)
    actions = ("revoke_tokens",)

    def has_add_permission(self, request) -> bool:
        return False  # the plaintext must be shown exactly once: use the command

    @admin.action(description="Revoke selected initial access tokens", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        updated = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{updated} token(s) revoked.", messages.SUCCESS)
