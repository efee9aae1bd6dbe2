"""Admin for OAuth clients (registered by DOT through APPLICATION_ADMIN_CLASS).

The secret is stored hashed and never shown, in the list or on the change form.
"""

from django import forms
from oauth2_provider import admin as dot_admin


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
    readonly_fields = (
        "client_id",
        "registration_source",
        "cimd_expires_at",
        "created",
        "updated",
        "last_used_at",
    )
