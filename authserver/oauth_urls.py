"""OAuth endpoints, slash-less (MCP clients fall back to /authorize, /token, /register).

The namespace is DOT's, so its views and metadata resolve our routes by its names.
"""

from django.urls import path, re_path

from authserver.authorization.endpoint import AuthorizeView
from authserver.discovery import views
from authserver.introspection import views as introspection_views
from authserver.token_endpoint import revoke as revoke_view
from authserver.token_endpoint import view as token_view

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize", AuthorizeView.as_view(), name="authorize"),
    path("token", token_view.token, name="token"),
    path("revoke", revoke_view.revoke, name="revoke-token"),
    path("introspect", introspection_views.introspect, name="introspect"),
    # RFC 8414 §3 and §3.1 (path-inserted form for an issuer with a path).
    path(
        ".well-known/oauth-authorization-server",
        views.AuthorizationServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    path(
        ".well-known/oauth-authorization-server/<path:issuer_path>",
        views.AuthorizationServerMetadataView.as_view(),
    ),
    # OIDC Discovery §4, plus the path forms MCP clients try for an issuer with a path.
    path(
        ".well-known/openid-configuration",
        views.OpenIDConfigurationView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(
        ".well-known/openid-configuration/<path:issuer_path>",
        views.OpenIDConfigurationView.as_view(),
    ),
    path("jwks.json", views.jwks),  # alias some libraries guess
    path(".well-known/jwks.json", views.jwks, name="jwks-info"),
    re_path(
        r"^(?P<issuer_path>.+)/\.well-known/openid-configuration$",
        views.OpenIDConfigurationView.as_view(),
    ),
    # Discovery stops at the first 5xx: every other well-known answers a clean 404.
    re_path(r"^\.well-known/", views.not_found_json),
]
