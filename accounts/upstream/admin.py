"""The admin's form for upstream sign-in providers: the client secret is write-only.

Only the field changes (the layout is allauth's SocialAppAdmin): a password input that never
renders a value, "leave empty to keep" on edit, and no secret at all for staff who may only
view. Registered from accounts/admin.py.
"""

from __future__ import annotations

from allauth.socialaccount import admin as allauth_admin
from allauth.socialaccount.models import SocialApp
from django import forms
from django.contrib import admin

from accounts.upstream.app_secret import MAX_SECRET

KEEP = "Stored encrypted and never shown. Leave empty to keep the current secret."


class WriteOnlySecretForm(allauth_admin.SocialAppForm):
    secret = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_SECRET,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=KEEP,
    )

    def clean_secret(self) -> str:
        value = self.cleaned_data.get("secret") or ""
        return value or (self.instance.secret if self.instance.pk else "")


class SocialAppAdmin(allauth_admin.SocialAppAdmin):
    form = WriteOnlySecretForm

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if not self.has_change_permission(request, obj):
            fields.remove("secret")  # a read-only page would print the field's value
        return fields


if admin.site.is_registered(SocialApp):
    admin.site.unregister(SocialApp)
admin.site.register(SocialApp, SocialAppAdmin)
