"""Admin for OAuth clients (registered by DOT through APPLICATION_ADMIN_CLASS).

The secret is stored hashed and never shown, in the list or on the change form.
"""

from django import forms
from django.contrib import admin
from oauth2_provider import admin as dot_admin

from authserver.models import ResourceAccess


class ResourceAccessInline(admin.TabularInline):
    """Client credentials: which resources, and which of their scopes, this client may get."""

    model = ResourceAccess
    extra = 0
    autocomplete_fields = ()
    fields = ("resource", "scope")


class ClientAdmin(dot_admin.ApplicationAdmin):
    form = forms.ModelForm  # DOT's ApplicationForm edits the secret; ours never shows it
    list_display = (
        "name",
        "client_id",
        "client_type",
        "registration_source",
        "verified",
        "is_active",
        "created",
        "last_used_at",
    )
    list_filter = ("registration_source", "client_type", "verified", "is_active")
    search_fields = ("name", "client_id", "software_id")
    exclude = ("client_secret", "hash_client_secret", "algorithm", "post_logout_redirect_uris")
    radio_fields = {}
    inlines = (ResourceAccessInline,)
    readonly_fields = (
        "client_id",
        "registration_source",
        "cimd_expires_at",
        "created",
        "updated",
        "last_used_at",
    )
