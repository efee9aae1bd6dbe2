"""Admin forms that edit protocol lists as checkboxes and lines, never as raw JSON.

The client form offers only what this server issues (RFC 7591 §2 names: no implicit, no
password grant, response type ``code`` only) and derives django-oauth-toolkit's single
``authorization_grant_type`` from the checked grant types, so the two can never disagree.
"""

from __future__ import annotations

from django import forms
from django.db import models
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from authserver.admin_base import LinesField
from authserver.token_endpoint import grant_types
from authserver.token_endpoint.grant_types import AUTHORIZATION_CODE, REFRESH_TOKEN
from clients.models import Client

GRANT_TYPE_CHOICES = grant_types.ADMIN_CHOICES
RESPONSE_TYPE_CHOICES = [("code", "code (the only response type this server issues)")]
CONFIDENTIAL_ONLY = grant_types.CONFIDENTIAL_ONLY


def _formfield(db_field: models.Field, **kwargs) -> forms.Field | None:
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")  # client metadata URLs are https
    return db_field.formfield(**kwargs)


class ClientForm(forms.ModelForm):
    formfield_callback = _formfield
    grant_types = forms.MultipleChoiceField(
        choices=GRANT_TYPE_CHOICES,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text="What this client may do. Interactive MCP clients need the first two.",
    )
    response_types = forms.MultipleChoiceField(
        choices=RESPONSE_TYPE_CHOICES,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        required=False,
        help_text="Check it for clients using the authorization code flow.",
    )
    contacts = LinesField(
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
        help_text="E-mail addresses of the people responsible, one per line.",
    )

    class Meta:
        model = Client
        # Never the secret, its hash flag, the registration token, DOT's single grant type,
        # or OIDC fields this server does not use (algorithm, post-logout redirects).
        fields = (
            "name",
            "client_type",
            "application_type",
            "token_endpoint_auth_method",
            "grant_types",
            "response_types",
            "redirect_uris",
            "scope",
            "verified",
            "is_active",
            "skip_authorization",
            "user",
            "client_uri",
            "logo_uri",
            "tos_uri",
            "policy_uri",
            "contacts",
            "software_id",
            "software_version",
            "allowed_origins",
        )
        widgets = {
            "redirect_uris": UnfoldAdminTextareaWidget(attrs={"rows": 3}),
            "allowed_origins": UnfoldAdminTextareaWidget(attrs={"rows": 2}),
            "scope": UnfoldAdminTextInputWidget(),
        }
        help_texts = {
            "redirect_uris": "One per line, matched exactly (loopback http URIs: any port, "
            "RFC 8252 §7.3). https, loopback http, or an app's own scheme (cursor://...).",
            "skip_authorization": "Trusted first-party client: users are not asked to consent.",
            "allowed_origins": "Browser origins allowed to call the token endpoint, one per line.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Rows created before response types were recorded: code is what they use.
        instance = self.instance
        if AUTHORIZATION_CODE in (instance.grant_types or []) and not instance.response_types:
            self.initial["response_types"] = ["code"]

    def clean(self) -> dict:
        data = super().clean()
        grants = set(data.get("grant_types") or ())
        public = data.get("client_type") == Client.CLIENT_PUBLIC
        method = data.get("token_endpoint_auth_method")
        # RFC 7591 §2: "none" is the method of a public client, and only of one.
        if public and method and method != Client.AuthMethod.NONE:
            self.add_error("token_endpoint_auth_method", "A public client authenticates with none.")
        if not public and method == Client.AuthMethod.NONE:
            self.add_error("token_endpoint_auth_method", "A confidential client needs a secret.")
        # RFC 6749 §4.4 and RFC 8693 §2.1: only clients that can keep a secret.
        if public and grants & CONFIDENTIAL_ONLY:
            self.add_error(
                "grant_types", "Client credentials and token exchange need a confidential client."
            )
        if REFRESH_TOKEN in grants and AUTHORIZATION_CODE not in grants:
            self.add_error("grant_types", "Refresh tokens come from the authorization code grant.")
        if AUTHORIZATION_CODE in grants and "code" not in (data.get("response_types") or ()):
            self.add_error("response_types", "The authorization code grant uses response type code")
        data["grant_types"] = [g for g, _ in GRANT_TYPE_CHOICES if g in grants]
        # DOT keeps one grant type per client; ours is the RFC 7591 list, and DOT's field
        # follows it (grant_types.dot_grant_type), so its validation sees the same.
        self.instance.authorization_grant_type = grant_types.dot_grant_type(data["grant_types"])
        return data
