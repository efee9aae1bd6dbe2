"""The URL map: OAuth endpoints, discovery, accounts, admin, health and metrics."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.views import ThrottledAdminAuthenticationForm
from authserver.admin import overview
from authserver.discovery import openapi, views
from authserver.ops import health, metrics

admin.site.login_form = ThrottledAdminAuthenticationForm  # brute-force protection
admin.site.site_header = "MCP Authorization Server"
admin.site.site_title = "MCP Authorization Server"
admin.site.index_title = "Administration"

urlpatterns = [
    # Before oauth_urls, whose catch-all answers every other /.well-known/ with a 404.
    path("", include("authzen.urls")),  # AuthZEN 1.0 policy decision point (docs/AUTHZEN.md)
    path("", include("authserver.oauth_urls")),
    path("", include("clients.urls")),  # /register, /register/<client_id> (RFC 7591/7592)
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path("docs", views.service_documentation, name="service-documentation"),
    path("openapi.json", openapi.openapi_document, name="openapi"),
    path("revocations", views.revocations, name="revocation-list"),
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page links; answer instead of logging a 404.
    path("favicon.ico", RedirectView.as_view(url=static("authserver/favicon.svg"), permanent=True)),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/overview/", admin.site.admin_view(overview.overview), name="admin-overview"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("", include("connections.urls")),  # /accounts/connections/ (docs/CONNECTIONS.md)
    path("", include("accounts.urls")),
    path("", include("approvals.urls")),  # CIBA + per-call approvals (docs/APPROVALS.md)
    path("scim/v2/", include("accounts.scim.urls")),  # SCIM 2.0 (RFC 7644; docs/IDENTITY.md)
    path("accounts/", include("accounts.upstream.urls")),  # upstream sign-in (docs/IDENTITY.md)
]

# Exceptions outside any view (errors.middleware handles those from views).
handler500 = "authserver.errors.middleware.server_error"
