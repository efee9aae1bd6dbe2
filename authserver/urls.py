from django.contrib import admin
from django.urls import include, path

from authserver import health, views

urlpatterns = [
    path("", include("authserver.oauth_urls")),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path("docs", views.service_documentation, name="service-documentation"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
]
